//! What each storage can represent: the largest amount it counts exactly and the longest window
//! it can expire, checked when a limiter starts rather than discovered as errors (or keys that
//! never expire) on the first requests.

use super::error::StorageError;
use super::Storage;
use crate::notation::RateLimit;

/// What a storage counts exactly and how long a window it can expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// The largest amount (and counter value) counted exactly.
    pub max_amount: u64,
    /// The longest window, in seconds.
    pub max_window_seconds: u64,
}

/// Lua numbers are doubles: integers are exact up to 2⁵³; windows are handled in milliseconds.
#[cfg(feature = "redis")]
const REDIS: Capacity = Capacity {
    max_amount: 1 << 53,
    max_window_seconds: (1 << 53) / 1000,
};

/// `incr` counts in 64 bits, but an expiry above 30 days is read by the server as a Unix time
/// (in 1970–1971 for such windows: already past), so longer windows are not expressible.
#[cfg(feature = "memcached")]
const MEMCACHED: Capacity = Capacity {
    max_amount: u64::MAX,
    max_window_seconds: 30 * 24 * 60 * 60,
};

/// BSON integers are signed 64-bit.
#[cfg(feature = "mongodb")]
const MONGODB: Capacity = Capacity {
    max_amount: i64::MAX as u64,
    max_window_seconds: i64::MAX as u64 / 1000,
};

impl Storage {
    /// What this storage can represent (the memory storage: everything a limit can say).
    pub fn capacity(&self) -> Capacity {
        match self {
            #[cfg(feature = "redis")]
            Storage::Redis(_) => REDIS,
            #[cfg(feature = "memcached")]
            Storage::Memcached(_) => MEMCACHED,
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(_) => MONGODB,
            _ => Capacity {
                max_amount: u64::MAX,
                max_window_seconds: u64::MAX,
            },
        }
    }

    /// Fails with [`StorageError::LimitTooLarge`] when `limit` asks more than this storage can
    /// represent ([`capacity`](Self::capacity)).
    pub fn check_limit(&self, limit: &RateLimit) -> Result<(), StorageError> {
        let capacity = self.capacity();
        if limit.amount() > capacity.max_amount
            || limit.expiry_seconds() > capacity.max_window_seconds
        {
            return Err(StorageError::LimitTooLarge {
                backend: self.backend_name(),
                limit: limit.to_string(),
                capacity,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notation::Granularity;

    #[test]
    fn memory_takes_any_limit() {
        let storage: Storage = crate::MemoryStorage::new().into();
        let huge = RateLimit::new(u64::MAX, u64::MAX, Granularity::Year);
        assert!(storage.check_limit(&huge).is_ok());
    }

    #[test]
    fn the_bounds_are_those_of_each_representation() {
        #[cfg(feature = "redis")]
        assert_eq!(REDIS.max_amount, 9_007_199_254_740_992);
        #[cfg(feature = "memcached")]
        assert_eq!(MEMCACHED.max_window_seconds, 2_592_000);
        #[cfg(feature = "mongodb")]
        assert_eq!(MONGODB.max_amount, 9_223_372_036_854_775_807);
    }
}
