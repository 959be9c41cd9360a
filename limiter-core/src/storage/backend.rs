//! The contract every storage backend fulfils.
//!
//! [`Storage`](super::Storage) is an enum over the built-in backends (see the [module
//! documentation](super) for why), and each of its operations goes through one macro,
//! `dispatch!` in `storage/mod.rs`, to the variant's implementation of [`Backend`]. A backend
//! is therefore one type implementing this trait, in a file or folder of its own.
//!
//! The trait is crate-private and used only on concrete types (never as `dyn Backend`), so its
//! `async fn`s cost no allocation: each call compiles to the backend's own future.

use super::error::StorageError;
use super::hit::{AdmittedReset, Decisions, Hit};
use super::over_limit::OverLimitCache;
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use crate::strategy::{Decision, WindowStats};

/// What a storage backend does: decide hits atomically, look at windows, forget state.
///
/// Every decision is one atomic step on the backend (a lock on one shard, one Lua script, one
/// update pipeline, an `incr` with a race guard): a generic `get`/`incr` interface would need
/// several round trips and leave races. Keys and stored values of network backends are those of
/// Python's `limits`, so that both can share a server.
pub(crate) trait Backend {
    /// The scheme name (`memory`, `redis`, `redis+cluster`, …), for errors and logs.
    fn name(&self) -> &'static str;

    /// Whether the backend can carry `strategy` out atomically. Its operations fail with
    /// [`StorageError::UnsupportedStrategy`] for the others.
    fn supports(&self, strategy: Strategy) -> bool {
        let _ = strategy;
        true
    }

    /// The over-limit cache in front of the backend, if it keeps one and it is on: rejections
    /// known in process, answered without a round trip (see `storage/over_limit.rs`).
    fn over_limit_cache(&self) -> Option<&OverLimitCache> {
        None
    }

    /// Counts `hits` in order, each decided atomically; with `stop_at_first_breach`, hits after
    /// the first rejected one are neither counted nor decided. Network backends send the batch
    /// in as few round trips as they can (one where the server allows it).
    async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError>;

    /// Counts one hit: [`acquire`](Self::acquire) of one, without the batch's bookkeeping.
    async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError>;

    /// Whether `hit.cost` more would be admitted now. Counts nothing.
    async fn test(&self, strategy: Strategy, hit: Hit<'_>) -> Result<bool, StorageError>;

    /// What is left of `limit` for `identifiers`, and when it resets. Counts nothing.
    async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError>;

    /// Forgets the state of `limit` for `identifiers`, under every strategy.
    async fn clear(&self, limit: &RateLimit, identifiers: &[&str]) -> Result<(), StorageError>;

    /// Forgets every limit's state; how many keys were removed, where known.
    async fn reset(&self) -> Result<Option<u64>, StorageError>;

    /// Whether the backend answers, within its timeout. Never fails.
    async fn check(&self) -> bool;
}
