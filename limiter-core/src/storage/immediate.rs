//! Answers a storage can give without waiting: the memory storage decides in the calling thread,
//! so a web layer can take the whole decision before it builds (or boxes) a future.
//!
//! Each method is the synchronous twin of an async one ([`acquire`](Storage::acquire),
//! [`test`](Storage::test), [`window_stats`](Storage::window_stats)) and gives the same answer;
//! `None` means the backend must wait on the network, and nothing was counted: call the async
//! method then.

use super::{Decisions, Hit, Storage, StorageError, WindowStats};
use crate::notation::RateLimit;
use crate::strategy::Strategy;

impl Storage {
    /// [`acquire`](Self::acquire), answered at once when the backend decides in this thread (the
    /// memory storage, or a Redis storage in lease mode whose leases cover every hit), else
    /// `None` with nothing counted.
    ///
    /// ```
    /// use limiter_core::{Hit, MemoryStorage, RateLimit, Storage, Strategy};
    ///
    /// let storage = Storage::from(MemoryStorage::new());
    /// let limit: RateLimit = "1 per minute".parse()?;
    /// let hit = Hit { limit: &limit, identifiers: &["client"], cost: 1 };
    /// let first = storage.acquire_all_now(Strategy::FixedWindow, &[hit], true);
    /// assert!(first.expect("memory answers at once")?[0].allowed);
    /// let second = storage.acquire_all_now(Strategy::FixedWindow, &[hit], true);
    /// assert!(!second.expect("memory answers at once")?[0].allowed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn acquire_all_now(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> Option<Result<Decisions, StorageError>> {
        match self {
            Storage::Memory(memory) => {
                Some(Ok(memory.acquire(strategy, hits, stop_at_first_breach)))
            }
            // In lease mode, hits its leases cover are paid at once.
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis
                .acquire_leased_now(strategy, hits, stop_at_first_breach)
                .map(Ok),
            // Network backends (when built) wait on their server.
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// [`test`](Self::test), answered at once when the backend decides in this thread (the
    /// memory storage), else `None`. Counts nothing either way.
    #[inline]
    pub fn test_now(&self, strategy: Strategy, hit: Hit<'_>) -> Option<Result<bool, StorageError>> {
        match self {
            Storage::Memory(memory) => Some(Ok(memory.test(strategy, hit))),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// [`window_stats`](Self::window_stats), answered at once when the backend decides in this
    /// thread (the memory storage), else `None`.
    #[inline]
    pub fn window_stats_now(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Option<Result<WindowStats, StorageError>> {
        match self {
            Storage::Memory(memory) => Some(Ok(memory.window_stats(strategy, limit, identifiers))),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}
