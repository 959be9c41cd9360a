//! Reading a forwarding header right to left: the hops a trusted proxy appended come last, so
//! they are read first, whatever a client wrote before them.

use super::node::{parse_node, trim_ows, Node};
use axum::http::header::{HeaderMap, HeaderName, FORWARDED};
use std::ops::ControlFlow;

/// The one header a [`ForwardedKey`](crate::ForwardedKey) reads the client address from: the
/// one the trusted proxies set. The others are never read, so a client's own copy of another
/// header cannot choose its key.
///
/// ```
/// use limiter_axum::{ForwardedKey, ProxyHeader};
/// use axum::http::HeaderName;
/// // Behind Cloudflare (trust Cloudflare's networks only):
/// let key = ForwardedKey::new()
///     .trust_proxy("173.245.48.0/20".parse().unwrap())
///     .header(ProxyHeader::Single(HeaderName::from_static("cf-connecting-ip")));
/// # let _ = key;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default): a list each proxy appends its
    /// peer to (nginx's `$proxy_add_x_forwarded_for`, AWS ALB, most ingresses).
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=client, for="[2001:db8::1]:4711"`: the `for` parameter of each
    /// element.
    Forwarded,
    /// A header holding one address that the proxy sets, replacing any copy from the client
    /// (`X-Real-IP`, `CF-Connecting-IP`, `True-Client-IP`). Several lines of it are malformed.
    Single(HeaderName),
}

/// `X-Forwarded-For`, which `http` has no constant for.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

impl ProxyHeader {
    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        match self {
            ProxyHeader::XForwardedFor => &X_FORWARDED_FOR,
            ProxyHeader::Forwarded => &FORWARDED,
            ProxyHeader::Single(name) => name,
        }
    }

    /// Gives `visit` the hops of this header in `headers`, right-most first (the last line's
    /// last entry), until it breaks. Allocates nothing.
    pub(crate) fn walk(
        &self,
        headers: &HeaderMap,
        mut visit: impl FnMut(Node) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let lines = headers.get_all(self.name());
        match self {
            ProxyHeader::XForwardedFor => {
                for line in lines.iter().rev() {
                    for entry in line.as_bytes().rsplit(|&byte| byte == b',') {
                        visit(parse_node(entry))?;
                    }
                }
            }
            ProxyHeader::Forwarded => {
                for line in lines.iter().rev() {
                    for element in RevElements::new(line.as_bytes()) {
                        visit(element.map_or(Node::Malformed, element_for))?;
                    }
                }
            }
            ProxyHeader::Single(_) => {
                let mut lines = lines.iter();
                let node = match (lines.next(), lines.next()) {
                    (Some(line), None) => parse_node(line.as_bytes()),
                    (None, None) => return ControlFlow::Continue(()),
                    _ => Node::Malformed,
                };
                visit(node)?;
            }
        }
        ControlFlow::Continue(())
    }
}

/// The node of an RFC 7239 element's `for` parameter (`for=192.0.2.1;proto=https`); an element
/// without one does not tell the address; a repeated or ill-formed parameter is malformed.
fn element_for(element: &[u8]) -> Node {
    let mut found = None;
    for pair in split_unquoted(element, b';') {
        let Some(equals) = pair.iter().position(|&byte| byte == b'=') else {
            return Node::Malformed;
        };
        let (name, value) = (trim_ows(&pair[..equals]), trim_ows(&pair[equals + 1..]));
        if name.is_empty() || !name.iter().all(|&byte| is_tchar(byte)) {
            return Node::Malformed;
        }
        if !name.eq_ignore_ascii_case(b"for") {
            continue;
        }
        if found.is_some() {
            return Node::Malformed;
        }
        let node = match value {
            [b'"', inner @ .., b'"'] if !inner.contains(&b'"') && !inner.contains(&b'\\') => inner,
            [b'"', ..] => return Node::Malformed,
            // Unquoted: a token, or (leniently) a bracketed address some proxies send unquoted.
            token => token,
        };
        found = Some(node);
    }
    found.map_or(Node::Hidden, parse_node)
}

/// RFC 7230's `tchar`, the characters of a token.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Splits at every `separator` outside a quoted string.
fn split_unquoted(text: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    let mut quoted = false;
    let mut escaped = false;
    text.split(move |&byte| {
        if escaped {
            escaped = false;
        } else if quoted && byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            quoted = !quoted;
        }
        byte == separator && !quoted
    })
}

/// The comma-separated elements of a `Forwarded` line, right-most first, commas inside quoted
/// strings kept. An element left inside an unclosed quote is `None` (malformed): scanning from
/// the right, a client's unbalanced quote cannot swallow the elements appended after it.
struct RevElements<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> RevElements<'a> {
    fn new(line: &'a [u8]) -> Self {
        RevElements { rest: Some(line) }
    }
}

impl<'a> Iterator for RevElements<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        let mut quoted = false;
        for index in (0..rest.len()).rev() {
            match rest[index] {
                b'"' if !escaped_at(rest, index) => quoted = !quoted,
                b',' if !quoted => {
                    self.rest = Some(&rest[..index]);
                    return Some(Some(&rest[index + 1..]));
                }
                _ => {}
            }
        }
        self.rest = None;
        Some((!quoted).then_some(rest))
    }
}

/// Whether the byte at `index` follows an odd number of backslashes (a quoted pair).
fn escaped_at(text: &[u8], index: usize) -> bool {
    let backslashes = text[..index]
        .iter()
        .rev()
        .take_while(|&&byte| byte == b'\\')
        .count();
    backslashes % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn hops(header: &ProxyHeader, lines: &[&[u8]]) -> Vec<Node> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header.name(), HeaderValue::from_bytes(line).unwrap());
        }
        let mut seen = Vec::new();
        let _ = header.walk(&headers, |node| {
            seen.push(node);
            ControlFlow::Continue(())
        });
        seen
    }

    fn ip(text: &str) -> Node {
        Node::Ip(text.parse().unwrap())
    }

    #[test]
    fn x_forwarded_for_right_to_left() {
        let header = ProxyHeader::XForwardedFor;
        assert_eq!(
            hops(&header, &[b"1.1.1.1, 2.2.2.2:80", b"[2001:db8::1]:4711"]),
            [ip("2001:db8::1"), ip("2.2.2.2"), ip("1.1.1.1")]
        );
        assert_eq!(
            hops(&header, &[b"\xff, 3.3.3.3"]),
            [ip("3.3.3.3"), Node::Malformed]
        );
        assert_eq!(hops(&header, &[b"1.1.1.1,,"])[0], Node::Malformed);
    }

    #[test]
    fn forwarded_elements() {
        let header = ProxyHeader::Forwarded;
        assert_eq!(
            hops(
                &header,
                &[b"for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\""]
            ),
            [ip("2001:db8:cafe::17"), ip("192.0.2.60")]
        );
        assert_eq!(
            hops(&header, &[b"for=\"_gazonk\", for=unknown, proto=https"]),
            [Node::Hidden, Node::Hidden, Node::Hidden]
        );
        // A client's unclosed quote does not swallow the element the proxy appended.
        assert_eq!(
            hops(&header, &[b"for=\"1.1.1.1, for=2.2.2.2"]),
            [ip("2.2.2.2"), Node::Malformed]
        );
        // A comma inside quotes does not split; the quoted text is not a node.
        assert_eq!(
            hops(&header, &[b"for=\"1.1.1.1, 2.2.2.2\""]),
            [Node::Malformed]
        );
        assert_eq!(
            hops(&header, &[b"for=1.1.1.1;for=2.2.2.2"]),
            [Node::Malformed]
        );
        assert_eq!(hops(&header, &[b"for"]), [Node::Malformed]);
        assert_eq!(hops(&header, &[b"for=\"a\\\"b\""]), [Node::Malformed]);
    }

    #[test]
    fn single_value_headers() {
        let header = ProxyHeader::Single(HeaderName::from_static("x-real-ip"));
        assert_eq!(hops(&header, &[b"203.0.113.9"]), [ip("203.0.113.9")]);
        assert_eq!(hops(&header, &[b"1.1.1.1", b"2.2.2.2"]), [Node::Malformed]);
        assert_eq!(hops(&header, &[b"1.1.1.1, 2.2.2.2"]), [Node::Malformed]);
        assert_eq!(hops(&header, &[]), []);
    }
}
