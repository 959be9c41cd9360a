//! The digest that stands in for a key longer than the limiter's maximum key length.

use sha2::{Digest, Sha256};

/// What a digested key starts with, so an operator reading the storage sees it is one.
const PREFIX: &str = "sha256:";

/// The length of every digested key: the prefix and 64 hex digits.
pub(crate) const DIGEST_LEN: usize = PREFIX.len() + 64;

/// `sha256:<hex>` of `key`: the same text in every process and on every backend, so instances
/// of one service share the counter of a long key.
pub(crate) fn digest(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = Sha256::digest(key.as_bytes());
    let mut text = String::with_capacity(DIGEST_LEN);
    text.push_str(PREFIX);
    for byte in hash {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        // `printf abc | sha256sum`
        assert_eq!(
            digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(digest("abc").len(), DIGEST_LEN);
    }
}
