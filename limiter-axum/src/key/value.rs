//! [`Key`]: a request's key as the limiter reads it, inline for addresses, hashed when too long.

use arrayvec::ArrayString;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::ops::Deref;

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
    /// The request carries no peer address (no `ConnectInfo`): the check answers 500 rather
    /// than count every client in one bucket. Reads as an empty key, which no limit counts.
    MissingPeer,
}

/// Room for the longest address text (45 bytes for an IPv4-mapped IPv6 address) and a `/128`.
const INLINE_CAPACITY: usize = 54;

/// An inline key: its text is known valid UTF-8, so reading it costs nothing (the key is read
/// once per limit of every request).
type InlineKey = ArrayString<INLINE_CAPACITY>;

impl<'a> Key<'a> {
    /// Formats `value` inline when it fits (it always does for addresses and networks), else
    /// into a `String`.
    pub(crate) fn formatted(value: impl fmt::Display) -> Key<'a> {
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

    /// The key of a request whose peer address is unknown (served without `ConnectInfo`).
    pub(crate) fn missing_peer() -> Key<'a> {
        Key(KeyRepr::MissingPeer)
    }

    /// Whether the key function could not tell the peer (no `ConnectInfo` in the request).
    pub(crate) fn is_missing_peer(&self) -> bool {
        matches!(self.0, KeyRepr::MissingPeer)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyRepr::Cow(text) => text,
            KeyRepr::Inline(inline) => inline.as_str(),
            KeyRepr::MissingPeer => "",
        }
    }

    /// The key as a `Cow` (allocates for an inline key).
    pub fn into_cow(self) -> Cow<'a, str> {
        match self.0 {
            KeyRepr::Cow(text) => text,
            KeyRepr::Inline(_) => Cow::Owned(self.as_str().to_owned()),
            KeyRepr::MissingPeer => Cow::Borrowed(""),
        }
    }

    /// This key, or its digest when it is longer than `max_len` bytes (see
    /// [`LimiterBuilder::max_key_length`](crate::LimiterBuilder::max_key_length)): a client
    /// cannot store keys of any size, and keys within the limit keep Flask-Limiter's layout.
    #[inline]
    pub(crate) fn bounded(self, max_len: usize) -> Key<'a> {
        if self.as_str().len() <= max_len {
            self
        } else {
            Key(KeyRepr::Cow(Cow::Owned(super::digest::digest(
                self.as_str(),
            ))))
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn long_keys_are_digested() {
        let short = Key::from("a".repeat(64)).bounded(64);
        assert_eq!(short.as_str(), "a".repeat(64));
        let long = Key::from("a".repeat(65)).bounded(64);
        assert!(long.as_str().starts_with("sha256:"), "{long}");
        assert_eq!(long.len(), super::super::digest::DIGEST_LEN);
        let again = Key::from("a".repeat(65)).bounded(64);
        assert_eq!(long.as_str(), again.as_str());
        let other = Key::from("b".repeat(65)).bounded(64);
        assert_ne!(long.as_str(), other.as_str());
        assert!(Key::missing_peer().is_missing_peer());
        assert_eq!(Key::missing_peer().as_str(), "");
    }
}
