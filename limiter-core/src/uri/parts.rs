//! The syntax of a URI after `scheme://` (RFC 3986 pieces) and its percent escapes.

/// The pieces of what follows `scheme://`, split as RFC 3986 does: the
/// authority ends at the first `/`, `?` or `#`.
pub(super) struct Parts<'a> {
    /// Text before the last `@` of the authority.
    pub(super) userinfo: Option<&'a str>,
    /// The authority after the user information: the comma-separated locations.
    pub(super) hosts: &'a str,
    /// Empty, or starting with `/`.
    pub(super) path: &'a str,
    /// Text after `?`, without the fragment.
    pub(super) query: Option<&'a str>,
    /// Text after `#`.
    pub(super) fragment: Option<&'a str>,
}

impl<'a> Parts<'a> {
    pub(super) fn split(rest: &'a str) -> Self {
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        Parts {
            userinfo,
            hosts,
            path,
            query,
            fragment,
        }
    }
}

/// Whether `scheme` has the RFC 3986 shape: a letter, then letters, digits, `+`, `-` or `.`.
pub(super) fn is_scheme(scheme: &str) -> bool {
    let mut characters = scheme.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && characters
            .all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
}

/// Decodes `%XX` escapes. A `%` not followed by two hexadecimal digits is
/// kept as is (like Python's `unquote`); `None` if the result is not UTF-8.
pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

/// Encodes everything but RFC 3986 unreserved characters, so a decoded user
/// name can be written back into a URI.
pub(super) fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
