//! A strategy applied to a storage: the object the web layer talks to.

use crate::notation::RateLimit;
use crate::storage::{AdmittedReset, Decision, Decisions, Hit, Storage, StorageError, WindowStats};
use crate::strategy::Strategy;

/// Decides hits of one [`Strategy`] on one [`Storage`], like a `limits` strategy object.
///
/// Every method takes the limit and the identifiers that name the counter (usually
/// `[client key, scope]`); the storage key is [`RateLimit::key_for`] of them.
///
/// ```
/// use limiter_core::{MemoryStorage, RateLimit, RateLimiter, Strategy};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let limiter = RateLimiter::new(Strategy::SlidingWindowCounter, MemoryStorage::new())?;
/// let limit: RateLimit = "10 per minute".parse()?;
/// let decision = limiter.acquire(&limit, &["127.0.0.1", "search"], 3).await?;
/// assert!(decision.allowed);
/// assert_eq!(decision.remaining, 7);
/// assert!(limiter.test(&limit, &["127.0.0.1", "search"], 7).await?);
/// assert!(!limiter.test(&limit, &["127.0.0.1", "search"], 8).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    strategy: Strategy,
    storage: Storage,
}

impl RateLimiter {
    /// Combines a strategy and a storage; fails if the storage cannot carry the strategy out
    /// atomically (the moving window on Memcached).
    pub fn new(strategy: Strategy, storage: impl Into<Storage>) -> Result<Self, StorageError> {
        let storage = storage.into();
        if !storage.supports(strategy) {
            return Err(StorageError::UnsupportedStrategy {
                strategy,
                backend: storage.backend_name(),
            });
        }
        Ok(RateLimiter { strategy, storage })
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Consumes `cost` if it fits; `true` if the hit is admitted.
    pub async fn hit(
        &self,
        limit: &RateLimit,
        identifiers: &[&str],
        cost: u64,
    ) -> Result<bool, StorageError> {
        Ok(self.acquire(limit, identifiers, cost).await?.allowed)
    }

    /// Like [`hit`](Self::hit), also returning the window after the hit (for response headers).
    pub async fn acquire(
        &self,
        limit: &RateLimit,
        identifiers: &[&str],
        cost: u64,
    ) -> Result<Decision, StorageError> {
        let hit = Hit {
            limit,
            identifiers,
            cost,
        };
        self.storage.acquire_one(self.strategy, &hit).await
    }

    /// Counts several hits in order, in one storage round trip; see [`Storage::acquire`].
    pub async fn acquire_all(
        &self,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> Result<Decisions, StorageError> {
        self.storage
            .acquire(self.strategy, hits, stop_at_first_breach)
            .await
    }

    /// [`acquire_all`](Self::acquire_all), with the reset times of admitted hits only as exact as
    /// `admitted_reset` asks; see [`Storage::acquire_with`].
    pub async fn acquire_all_with(
        &self,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        self.storage
            .acquire_with(self.strategy, hits, stop_at_first_breach, admitted_reset)
            .await
    }

    /// Whether `cost` would be admitted now. Counts nothing.
    pub async fn test(
        &self,
        limit: &RateLimit,
        identifiers: &[&str],
        cost: u64,
    ) -> Result<bool, StorageError> {
        let hit = Hit {
            limit,
            identifiers,
            cost,
        };
        self.storage.test(self.strategy, hit).await
    }

    /// What is left of the limit and when it resets.
    pub async fn window_stats(
        &self,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        self.storage
            .window_stats(self.strategy, limit, identifiers)
            .await
    }

    /// Forgets the limit's state for these identifiers.
    pub async fn clear(&self, limit: &RateLimit, identifiers: &[&str]) -> Result<(), StorageError> {
        self.storage.clear(limit, identifiers).await
    }
}
