//! Key functions: who a request is counted against.

use crate::Request;
use arrayvec::ArrayString;
use axum::extract::ConnectInfo;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;

/// Gives the client key of a request (Flask-Limiter's `key_func`), e.g. [`get_remote_address`].
///
/// Implemented for every `for<'a> Fn(&'a Request) -> Cow<'a, str>`; wrap a closure in
/// [`key_fn`] to help type inference.
///
/// [`get_remote_address`]: crate::get_remote_address
pub trait KeyFunc: Send + Sync + 'static {
    /// The key of this request; an empty key skips the limit (logged), as in Flask-Limiter.
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str>;

    /// The key of this request as the limiter reads it on every request. Defaults to
    /// [`key`](Self::key); key functions that can write their key without allocating (the
    /// built-in ones write IP addresses inline) override it.
    fn request_key<'a>(&self, request: &'a Request) -> Key<'a> {
        Key::from(self.key(request))
    }
}

impl<F> KeyFunc for F
where
    F: for<'a> Fn(&'a Request) -> Cow<'a, str> + Send + Sync + 'static,
{
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        self(request)
    }
}

/// Pins a closure's signature to `for<'a> Fn(&'a Request) -> Cow<'a, str>` so it can be used as
/// a [`KeyFunc`]: `key_fn(|req| Cow::Borrowed(req.uri().path()))`.
pub fn key_fn<F>(f: F) -> F
where
    F: for<'a> Fn(&'a Request) -> Cow<'a, str> + Send + Sync + 'static,
{
    f
}

/// A request's key as the limiter uses it: borrowed from the request, owned, or a client
/// address written into an inline buffer, so the common keys (an IP address, an IPv6 network)
/// cost no allocation per request.
///
/// Key functions return a `Cow<str>` ([`KeyFunc::key`](crate::KeyFunc::key)); the built-in ones
/// also give a `Key` ([`KeyFunc::request_key`](crate::KeyFunc::request_key)).
///
/// ```
/// use limiter_axum::Key;
/// let key = Key::from_ip("10.1.2.3".parse().unwrap());
/// assert_eq!(&*key, "10.1.2.3");
/// assert_eq!(Key::from("global").as_str(), "global");
/// ```
#[derive(Clone)]
pub struct Key<'a>(KeyRepr<'a>);

#[derive(Clone)]
enum KeyRepr<'a> {
    Cow(Cow<'a, str>),
    Inline(InlineKey),
}

/// Room for the longest address text (45 bytes for an IPv4-mapped IPv6 address) and a `/128`.
const INLINE_CAPACITY: usize = 54;

/// An inline key: its text is known valid UTF-8, so reading it costs nothing (the key is read
/// once per limit of every request).
type InlineKey = ArrayString<INLINE_CAPACITY>;

impl<'a> Key<'a> {
    /// Formats `value` inline when it fits (it always does for addresses and networks), else
    /// into a `String`.
    fn formatted(value: impl fmt::Display) -> Key<'a> {
        let mut inline = InlineKey::new();
        match write!(inline, "{value}") {
            Ok(()) => Key(KeyRepr::Inline(inline)),
            Err(_) => Key(KeyRepr::Cow(Cow::Owned(value.to_string()))),
        }
    }

    /// The text of an IP address (`10.1.2.3`, `2001:db8::1`), without allocating.
    pub fn from_ip(ip: IpAddr) -> Key<'a> {
        match ip {
            // Digit by digit: several times faster than going through `fmt` (this runs on every
            // request), and the same text as `Ipv4Addr`'s `Display`.
            IpAddr::V4(ip) => {
                let mut inline = InlineKey::new();
                // At most 15 characters: always fits.
                let mut push = |byte: u8| inline.push(char::from(byte));
                for (index, octet) in ip.octets().into_iter().enumerate() {
                    if index > 0 {
                        push(b'.');
                    }
                    if octet >= 100 {
                        push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        push(b'0' + octet / 10 % 10);
                    }
                    push(b'0' + octet % 10);
                }
                Key(KeyRepr::Inline(inline))
            }
            IpAddr::V6(_) => Key::formatted(ip),
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyRepr::Cow(text) => text,
            KeyRepr::Inline(inline) => inline.as_str(),
        }
    }

    /// The key as a `Cow` (allocates for an inline key).
    pub fn into_cow(self) -> Cow<'a, str> {
        match self.0 {
            KeyRepr::Cow(text) => text,
            KeyRepr::Inline(_) => Cow::Owned(self.as_str().to_owned()),
        }
    }
}

impl Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Key<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<'a> From<Cow<'a, str>> for Key<'a> {
    fn from(text: Cow<'a, str>) -> Self {
        Key(KeyRepr::Cow(text))
    }
}

impl<'a> From<&'a str> for Key<'a> {
    fn from(text: &'a str) -> Self {
        Key(KeyRepr::Cow(Cow::Borrowed(text)))
    }
}

impl From<String> for Key<'_> {
    fn from(text: String) -> Self {
        Key(KeyRepr::Cow(Cow::Owned(text)))
    }
}

/// The peer's IP address from axum's [`ConnectInfo<SocketAddr>`], else `"127.0.0.1"`
/// (Flask-Limiter's `get_remote_address`). Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the address is known.
///
/// Behind a reverse proxy every client has the proxy's address: use [`ForwardedKey`].
///
/// Given to [`Limiter::new`](crate::Limiter::new) or [`Limit::key_func`](crate::Limit::key_func),
/// the limiter calls its allocation-free form ([`KeyFunc::request_key`](crate::KeyFunc::request_key)).
pub fn get_remote_address(request: &Request) -> Cow<'_, str> {
    remote_address(request).into_cow()
}

fn remote_address(request: &Request) -> Key<'_> {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => Key::from_ip(addr.ip()),
        None => Key::from("127.0.0.1"),
    }
}

/// [`get_remote_address`] as a key function type, with the allocation-free `request_key`.
struct RemoteAddress;

impl KeyFunc for RemoteAddress {
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        get_remote_address(request)
    }

    fn request_key<'a>(&self, request: &'a Request) -> Key<'a> {
        remote_address(request)
    }
}

/// Boxes a key function; [`get_remote_address`] is swapped for the same function written
/// without allocation (a plain function cannot override [`KeyFunc::request_key`]).
///
/// [`KeyFunc::request_key`]: KeyFunc::request_key
pub(crate) fn boxed_key_func<K: KeyFunc>(key_func: K) -> std::sync::Arc<dyn KeyFunc> {
    use std::any::TypeId;
    fn type_id_of<T: 'static>(_: &T) -> TypeId {
        TypeId::of::<T>()
    }
    if TypeId::of::<K>() == type_id_of(&get_remote_address) {
        std::sync::Arc::new(RemoteAddress)
    } else {
        std::sync::Arc::new(key_func)
    }
}

/// The same key for every request: one counter for all clients.
pub fn global_key(_request: &Request) -> Cow<'_, str> {
    Cow::Borrowed("global")
}

/// The client address behind trusted reverse proxies, from `X-Forwarded-For` (or `Forwarded`),
/// read **right to left** and trusted only as far as the proxies are trusted — so a client
/// cannot spoof its key by sending its own header.
///
/// * Without trusted proxies (the default), headers are ignored and the peer address is used.
/// * With trusted proxies, the header is only read when the peer itself is trusted; the key is
///   the right-most address that is not a trusted proxy.
/// * IPv6 addresses can be grouped by prefix (`ipv6_prefix(64)`), so one client cannot rotate
///   through its /64.
///
/// ```
/// use limiter_axum::ForwardedKey;
/// let key = ForwardedKey::new().trust_proxy("10.0.0.0/8".parse().unwrap()).ipv6_prefix(64);
/// let limiter = limiter_axum::Limiter::new(key);
/// # let _ = limiter;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ForwardedKey {
    trusted: Vec<IpNet>,
    ipv6_prefix: Option<u8>,
}

/// An IP network (`10.0.0.0/8`, `::1/128`), for [`ForwardedKey::trust_proxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|e| format!("{text}: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|e| format!("{text}: {e}"))?,
            None => max,
        };
        if prefix > max {
            return Err(format!("{text}: prefix longer than {max}"));
        }
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl ForwardedKey {
    /// No trusted proxies: the peer address.
    pub fn new() -> Self {
        ForwardedKey::default()
    }

    /// Trusts a proxy network: its `X-Forwarded-For`/`Forwarded` entries are believed.
    pub fn trust_proxy(mut self, net: IpNet) -> Self {
        self.trusted.push(net);
        self
    }

    /// Groups IPv6 clients by this prefix length (e.g. 64 or 56).
    pub fn ipv6_prefix(mut self, prefix: u8) -> Self {
        self.ipv6_prefix = Some(prefix.min(128));
        self
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// The client address of a request.
    pub fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())?;
        if !self.trusted(peer) {
            return Some(peer);
        }
        let mut chain: Vec<IpAddr> = Vec::new();
        for value in request.headers().get_all("x-forwarded-for") {
            if let Ok(text) = value.to_str() {
                chain.extend(
                    text.split(',')
                        .filter_map(|s| s.trim().parse::<IpAddr>().ok()),
                );
            }
        }
        if chain.is_empty() {
            for value in request.headers().get_all("forwarded") {
                if let Ok(text) = value.to_str() {
                    for element in text.split(',') {
                        for pair in element.split(';') {
                            let Some((name, value)) = pair.trim().split_once('=') else {
                                continue;
                            };
                            if name.eq_ignore_ascii_case("for") {
                                let value = value.trim_matches('"');
                                let value = value.trim_start_matches('[');
                                let host = match value.split_once(']') {
                                    Some((host, _)) => host,
                                    None => value
                                        .rsplit_once(':')
                                        .filter(|(h, _)| !h.contains(':'))
                                        .map_or(value, |(h, _)| h),
                                };
                                if let Ok(ip) = host.parse() {
                                    chain.push(ip);
                                }
                            }
                        }
                    }
                }
            }
        }
        // Right to left: the first address not of a trusted proxy is the client.
        let mut client = peer;
        for ip in chain.into_iter().rev() {
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        Some(client)
    }
}

impl KeyFunc for ForwardedKey {
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        self.request_key(request).into_cow()
    }

    fn request_key<'a>(&self, request: &'a Request) -> Key<'a> {
        match self.client_ip(request) {
            Some(IpAddr::V6(ip)) if self.ipv6_prefix.is_some() => {
                let prefix = u32::from(self.ipv6_prefix.unwrap_or(128));
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                let net = std::net::Ipv6Addr::from(u128::from(ip) & mask);
                Key::formatted(format_args!("{net}/{prefix}"))
            }
            Some(ip) => Key::from_ip(ip),
            None => Key::from("127.0.0.1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.1.2.3".parse().unwrap()));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<IpNet>().is_err());
    }

    #[test]
    fn inline_keys() {
        let longest: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .unwrap();
        assert_eq!(Key::from_ip(longest).as_str(), longest.to_string());
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(Key::from_ip(v4).as_str(), "10.1.2.3");
        for octet in [0u8, 7, 9, 10, 99, 100, 109, 199, 200, 255] {
            let ip = IpAddr::from([octet, 255 - octet, octet / 2, 1]);
            assert_eq!(Key::from_ip(ip).as_str(), ip.to_string());
        }
        let net = Key::formatted(format_args!("{longest}/128"));
        assert_eq!(net.as_str(), format!("{longest}/128"));
        let long = "x".repeat(100);
        assert_eq!(Key::formatted(&long).as_str(), long);
        assert_eq!(Key::from(String::from("a")).into_cow(), "a");
        assert_eq!(Key::from_ip(v4).into_cow(), "10.1.2.3");
    }
}
