//! Memcached keys: storage keys made safe for memcached, and the derived keys of each hit.

use crate::storage::hit::Hit;
use std::borrow::Cow;

/// The longest key memcached accepts, in bytes.
pub const MAX_KEY_LENGTH: usize = 250;

/// The longest storage key used as it is; longer ones are hashed (see [`memcached_key`]).
/// 21 bytes below [`MAX_KEY_LENGTH`], for a `/` and a 20-digit bucket number.
pub const MAX_RAW_KEY_LENGTH: usize = MAX_KEY_LENGTH - 21;

/// The memcached key for a storage key: the key itself when it is printable ASCII without
/// spaces and at most [`MAX_RAW_KEY_LENGTH`] bytes, else `LIMITER/sha256/<hex>` (64 lowercase
/// hex digits of the SHA-256 of the key).
///
/// ```
/// use limiter_core::storage::memcached::memcached_key;
///
/// assert_eq!(memcached_key("LIMITER/127.0.0.1/1/1/minute"), "LIMITER/127.0.0.1/1/1/minute");
/// let hashed = memcached_key("LIMITER/a b/1/1/minute");
/// assert!(hashed.starts_with("LIMITER/sha256/"));
/// assert_eq!(hashed.len(), 15 + 64);
/// assert!(memcached_key(&"x".repeat(300)).starts_with("LIMITER/sha256/"));
/// ```
pub fn memcached_key(key: &str) -> Cow<'_, str> {
    let safe =
        key.len() <= MAX_RAW_KEY_LENGTH && key.bytes().all(|byte| (0x21..=0x7e).contains(&byte));
    if safe {
        return Cow::Borrowed(key);
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut hashed = String::with_capacity(15 + 64);
    hashed.push_str("LIMITER/sha256/");
    for byte in digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        hashed.push(HEX[usize::from(byte >> 4)] as char);
        hashed.push(HEX[usize::from(byte & 0xf)] as char);
    }
    Cow::Owned(hashed)
}

/// A hit with everything a blocking job needs, owned.
pub(super) struct OwnedHit {
    /// The memcached-safe key.
    pub(super) key: String,
    pub(super) amount: u64,
    pub(super) expiry_secs: u64,
    pub(super) cost: u64,
}

impl OwnedHit {
    pub(super) fn new(hit: &Hit<'_>) -> Self {
        let key = hit.limit.key_for(hit.identifiers);
        let key = match memcached_key(&key) {
            Cow::Borrowed(_) => key,
            Cow::Owned(hashed) => hashed,
        };
        OwnedHit {
            key,
            amount: hit.limit.amount(),
            expiry_secs: hit.limit.expiry_seconds().max(1),
            cost: hit.cost,
        }
    }

    pub(super) fn expiry_nanos(&self) -> u64 {
        self.expiry_secs.saturating_mul(1_000_000_000)
    }

    pub(super) fn expires_key(&self) -> String {
        format!("{}/expires", self.key)
    }

    pub(super) fn bucket_key(&self, bucket: u64) -> String {
        format!("{}/{}", self.key, bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_made_safe() {
        let plain = "LIMITER/10.0.0.1/route/5/1/minute";
        assert_eq!(memcached_key(plain), plain);
        let exact = "x".repeat(MAX_RAW_KEY_LENGTH);
        assert_eq!(memcached_key(&exact), exact.as_str());
        for unsafe_key in [
            "x".repeat(MAX_RAW_KEY_LENGTH + 1),
            "LIMITER/a b".to_owned(),
            "LIMITER/a\nb".to_owned(),
            "LIMITER/é".to_owned(),
            "LIMITER/\u{7f}".to_owned(),
        ] {
            let key = memcached_key(&unsafe_key);
            assert!(key.starts_with("LIMITER/sha256/"), "{unsafe_key:?}");
            assert_eq!(key.len(), 79);
            assert!(key.bytes().all(|byte| (0x21..=0x7e).contains(&byte)));
        }
        assert_ne!(memcached_key("LIMITER/a b"), memcached_key("LIMITER/a c"));
        // Derived keys stay within memcached's limit.
        assert!(format!("{exact}/{}", u64::MAX).len() <= MAX_KEY_LENGTH);
    }
}
