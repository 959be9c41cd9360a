//! [`ForwardedKey`]: the client address behind trusted reverse proxies.

use super::header::ProxyHeader;
use super::ipv6::{network_key, DEFAULT_IPV6_PREFIX};
use super::node::Node;
use super::proxies::TrustedProxies;
use super::remote::peer_ip;
use super::value::Key;
use super::KeyFunc;
use crate::Request;
use ipnet::IpNet;
use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::ControlFlow;

/// The client address behind trusted reverse proxies (nginx's `realip` module with
/// `real_ip_recursive on`), IPv6 clients grouped by network.
///
/// * Without trusted proxies (the default), no header is read: the key is the peer address.
/// * With trusted proxies, the one [`ProxyHeader`] they set (`X-Forwarded-For` by default) is
///   read only when the peer is trusted, **right to left**: each hop's address is believed while
///   the hop that wrote it is trusted; the key is the first address that is not a trusted proxy.
///   A hop that is malformed, `unknown` or obfuscated stops the walk: the key is the last
///   trusted hop's address. No other header is ever read.
/// * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a server bound on `[::]` sees) are
///   compared and keyed as IPv4, on both sides of every comparison.
/// * IPv6 clients are keyed by their /56 (`2001:db8:0:1200::/56`; [`ipv6_prefix`](Self::ipv6_prefix)
///   changes it, 128 keys each address), so one client cannot rotate through its network.
/// * A request without `ConnectInfo` is answered with a 500 and a logged error, never counted
///   in a bucket shared by all clients.
///
/// ```
/// use limiter_axum::{ForwardedKey, ProxyHeader};
/// let key = ForwardedKey::new()
///     .trust_proxy("10.0.0.0/8".parse().unwrap())
///     .header(ProxyHeader::XForwardedFor)
///     .ipv6_prefix(64);
/// let limiter = limiter_axum::Limiter::new(key);
/// # let _ = limiter;
/// ```
///
/// See `docs/security.md` in the repository for common deployments (nginx, Cloudflare, AWS ALB,
/// Kubernetes ingresses).
#[derive(Debug, Clone)]
pub struct ForwardedKey {
    trusted: TrustedProxies,
    header: ProxyHeader,
    ipv6_prefix: u8,
}

impl Default for ForwardedKey {
    fn default() -> Self {
        ForwardedKey {
            trusted: TrustedProxies::default(),
            header: ProxyHeader::default(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

impl ForwardedKey {
    /// No trusted proxies: the peer address (IPv6 grouped by /56).
    pub fn new() -> Self {
        ForwardedKey::default()
    }

    /// Trusts a proxy network (`"10.0.0.0/8".parse()?`, `"::1/128".parse()?`): the hops it
    /// writes in the [`header`](Self::header) are believed. A network that trusts every address
    /// (`0.0.0.0/0`, `::/0`) is logged as a warning.
    pub fn trust_proxy(mut self, net: IpNet) -> Self {
        self.trusted.push(net);
        self
    }

    /// The header the trusted proxies set ([`ProxyHeader::XForwardedFor`] by default).
    pub fn header(mut self, header: ProxyHeader) -> Self {
        self.header = header;
        self
    }

    /// Groups IPv6 clients by this prefix length (56 by default; 128 keys each address).
    pub fn ipv6_prefix(mut self, prefix: u8) -> Self {
        self.ipv6_prefix = prefix.min(128);
        self
    }

    /// The client address of a request (IPv4-mapped addresses as IPv4), or `None` without
    /// `ConnectInfo`.
    pub fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        let peer = peer_ip(request)?;
        if self.trusted.is_empty() || !self.trusted.contains(peer) {
            return Some(peer);
        }
        let mut client = peer;
        let _ = self.header.walk(request.headers(), |node| match node {
            Node::Ip(ip) => {
                client = ip;
                if self.trusted.contains(ip) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            }
            Node::Hidden | Node::Malformed => ControlFlow::Break(()),
        });
        Some(client)
    }
}

impl KeyFunc for ForwardedKey {
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        self.request_key(request).into_cow()
    }

    fn request_key<'a>(&self, request: &'a Request) -> Key<'a> {
        match self.client_ip(request) {
            Some(IpAddr::V6(ip)) => network_key(ip, self.ipv6_prefix),
            Some(ip) => Key::from_ip(ip),
            None => Key::missing_peer(),
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{HeaderName, HeaderValue};
    use proptest::prelude::*;
    use std::net::SocketAddr;

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Bytes a header value may hold (visible ASCII, spaces, tabs, obs-text), biased towards the
    /// characters the parsers care about.
    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            3 => prop::sample::select(b",;=\":[]_ .0123456789abcdef\\forFOR".to_vec()),
            1 => 0x20u8..0x7f,
            1 => 0x80u8..=0xff,
            1 => Just(b'\t'),
        ];
        prop::collection::vec(byte, 0..40)
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u16; 8]>().prop_map(IpAddr::from),
        ]
    }

    fn request(peer: IpAddr, headers: &[(&str, Vec<u8>)]) -> Request {
        let mut request = Request::new(Body::empty());
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer, 4711)));
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                request
                    .headers_mut()
                    .append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value);
            }
        }
        request
    }

    fn keys() -> [ForwardedKey; 3] {
        let trusted = || {
            ForwardedKey::new()
                .trust_proxy("10.0.0.0/8".parse().unwrap())
                .trust_proxy("fd00::/8".parse().unwrap())
        };
        [
            trusted(),
            trusted().header(ProxyHeader::Forwarded),
            trusted().header(ProxyHeader::Single(HeaderName::from_static("x-real-ip"))),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// A peer that is not a trusted proxy is keyed by its address, whatever it sends.
        #[test]
        fn forged_headers_never_change_an_untrusted_peers_key(
            peer in ip(),
            xff in header_bytes(),
            forwarded in header_bytes(),
            real_ip in header_bytes(),
        ) {
            for key in keys() {
                let peer = peer.to_canonical();
                prop_assume!(!key.trusted.contains(peer));
                let plain = request(peer, &[]);
                let forged = request(peer, &[
                    ("x-forwarded-for", xff.clone()),
                    ("forwarded", forwarded.clone()),
                    ("x-real-ip", real_ip.clone()),
                ]);
                let (forged_key, plain_key) = (key.request_key(&forged), key.request_key(&plain));
                prop_assert_eq!(forged_key.as_str(), plain_key.as_str());
            }
        }

        /// Behind a trusted proxy that appends the client's address, whatever the client wrote
        /// before it does not change its key.
        #[test]
        fn a_clients_own_entries_never_change_its_key(
            client in ip(),
            written in header_bytes(),
        ) {
            let client = client.to_canonical();
            let proxy: IpAddr = "10.1.2.3".parse().unwrap();
            let [xff_key, forwarded_key, _] = keys();
            prop_assume!(!xff_key.trusted.contains(client));
            let appended = |written: &[u8], entry: String| {
                let mut value = written.to_vec();
                value.extend_from_slice(b", ");
                value.extend_from_slice(entry.as_bytes());
                value
            };
            let bracketed = match client {
                IpAddr::V6(ip) => format!("\"[{ip}]:4711\""),
                IpAddr::V4(ip) => format!("{ip}:4711"),
            };
            let xff = request(proxy, &[("x-forwarded-for", appended(&written, client.to_string()))]);
            let forwarded = request(proxy, &[("forwarded", appended(&written, format!("for={bracketed}")))]);
            prop_assert_eq!(xff_key.client_ip(&xff), Some(client));
            prop_assert_eq!(forwarded_key.client_ip(&forwarded), Some(client));
        }
    }
}
