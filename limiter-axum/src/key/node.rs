//! One hop of a forwarding chain: RFC 7239's node syntax (`192.0.2.7`, `192.0.2.7:4711`,
//! `[2001:db8::7]:4711`, `unknown`, `_hidden`), also used for `X-Forwarded-For` entries and
//! single-value headers, which add bare IPv6 addresses (`2001:db8::7`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a hop's text says about the address it forwarded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    /// An address (IPv4-mapped IPv6 addresses are given as IPv4).
    Ip(IpAddr),
    /// `unknown` or an obfuscated identifier (`_hidden`): the hop does not tell the address.
    Hidden,
    /// Not a node at all.
    Malformed,
}

/// Parses one node, after trimming optional whitespace around it.
pub(crate) fn parse_node(text: &[u8]) -> Node {
    let text = trim_ows(text);
    if text.eq_ignore_ascii_case(b"unknown") {
        return Node::Hidden;
    }
    if let Some(rest) = text.strip_prefix(b"_") {
        return match split_port(rest) {
            Some((name, port)) if is_obfuscated(name) && valid_port(port) => Node::Hidden,
            None if is_obfuscated(rest) => Node::Hidden,
            _ => Node::Malformed,
        };
    }
    if let Some(rest) = text.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&byte| byte == b']') else {
            return Node::Malformed;
        };
        let (inside, after) = (&rest[..close], &rest[close + 1..]);
        let port_ok = match after {
            [] => true,
            [b':', port @ ..] => valid_port(Some(port)),
            _ => false,
        };
        return match (port_ok, parse_ascii::<Ipv6Addr>(inside)) {
            (true, Some(ip)) => Node::Ip(IpAddr::V6(ip).to_canonical()),
            _ => Node::Malformed,
        };
    }
    // An IPv4 address, with or without a port; else a bare IPv6 address (X-Forwarded-For).
    if let Some(ip) = parse_ascii::<Ipv4Addr>(text) {
        return Node::Ip(IpAddr::V4(ip));
    }
    if let Some((host, port)) = split_port(text) {
        if let (Some(ip), true) = (parse_ascii::<Ipv4Addr>(host), valid_port(port)) {
            return Node::Ip(IpAddr::V4(ip));
        }
    }
    match parse_ascii::<Ipv6Addr>(text) {
        Some(ip) => Node::Ip(IpAddr::V6(ip).to_canonical()),
        None => Node::Malformed,
    }
}

/// Trims RFC 7230's optional whitespace (spaces and tabs).
pub(crate) fn trim_ows(text: &[u8]) -> &[u8] {
    let is_ows = |byte: &u8| *byte == b' ' || *byte == b'\t';
    let start = text.iter().position(|b| !is_ows(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |end| end + 1);
    &text[start..end]
}

/// `name:port` split at its only colon (a text with several colons is an IPv6 address).
fn split_port(text: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let colon = text.iter().position(|&byte| byte == b':')?;
    if text[colon + 1..].contains(&b':') {
        return None;
    }
    Some((&text[..colon], Some(&text[colon + 1..])))
}

/// RFC 7239's `node-port`: 1 to 5 digits, or an obfuscated port (`_abc`).
fn valid_port(port: Option<&[u8]>) -> bool {
    match port {
        None => true,
        Some([b'_', rest @ ..]) => is_obfuscated(rest),
        Some(digits) => {
            (1..=5).contains(&digits.len()) && digits.iter().all(|byte| byte.is_ascii_digit())
        }
    }
}

/// The characters of an obfuscated identifier after its `_`: `ALPHA / DIGIT / "." / "_" / "-"`.
fn is_obfuscated(text: &[u8]) -> bool {
    !text.is_empty()
        && text
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Parses an address from bytes that must be ASCII (any other byte makes it malformed).
fn parse_ascii<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    T::from_str(std::str::from_utf8(text).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Node {
        Node::Ip(text.parse().unwrap())
    }

    #[test]
    fn rfc7239_nodes() {
        assert_eq!(parse_node(b"192.0.2.43"), ip("192.0.2.43"));
        assert_eq!(parse_node(b" 192.0.2.43:47011 "), ip("192.0.2.43"));
        assert_eq!(parse_node(b"192.0.2.43:_abc"), ip("192.0.2.43"));
        assert_eq!(parse_node(b"[2001:db8:cafe::17]"), ip("2001:db8:cafe::17"));
        assert_eq!(
            parse_node(b"[2001:db8:cafe::17]:4711"),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(parse_node(b"2001:db8:cafe::17"), ip("2001:db8:cafe::17"));
        assert_eq!(parse_node(b"::ffff:127.0.0.1"), ip("127.0.0.1"));
        assert_eq!(parse_node(b"[::ffff:10.0.0.1]:80"), ip("10.0.0.1"));
        assert_eq!(parse_node(b"unknown"), Node::Hidden);
        assert_eq!(parse_node(b"UNKNOWN"), Node::Hidden);
        assert_eq!(parse_node(b"_hidden"), Node::Hidden);
        assert_eq!(parse_node(b"_SEVKISEK:_port"), Node::Hidden);
    }

    #[test]
    fn malformed_nodes() {
        for text in [
            &b""[..],
            b"\xff",
            b"1.2.3",
            b"1.2.3.4:",
            b"1.2.3.4:123456",
            b"1.2.3.4:port",
            b"[2001:db8::1",
            b"[2001:db8::1]x",
            b"[1.2.3.4]",
            b"_",
            b"_a b",
            b"example.com",
            b"1.2.3.4 5.6.7.8",
        ] {
            assert_eq!(parse_node(text), Node::Malformed, "{text:?}");
        }
    }
}
