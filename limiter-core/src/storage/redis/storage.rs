//! [`RedisStorage`]: the storage, its accessors, and its side of the storage contract.

use super::batch;
use super::connection::Connection;
use super::decode::decode;
use super::errors::{backend_error, bounded, unexpected};
use super::lease::Leases;
use super::scripts::{Mode, ScriptHit};
use super::wrong_type::is_wrong_type;
use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::storage::backend::Backend;
use crate::storage::error::StorageError;
use crate::storage::hit::{AdmittedReset, Decisions, Hit};
use crate::storage::over_limit::OverLimitCache;
use crate::strategy::{Decision, Strategy, WindowStats};
use redis::RedisResult;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How a look at one window (`test`, `window_stats`) is decided: one hit, with its exact reset.
const PEEK_MODE: Mode = Mode {
    stop_at_first_breach: false,
    admitted_reset: AdmittedReset::Exact,
};

/// Rate-limit storage on Redis or Valkey: standalone (`redis://`, `rediss://`, `redis+unix://`),
/// cluster (`redis+cluster://`) or sentinel-monitored (`redis+sentinel://`).
///
/// Cloning is cheap and shares the connections.
///
/// ```no_run
/// use limiter_core::storage::RedisStorage;
/// use limiter_core::{RateLimiter, Strategy};
/// use std::time::Duration;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let storage = RedisStorage::builder("redis://127.0.0.1:6379/0")
///     .key_prefix("LIMITS")
///     .timeout(Duration::from_millis(500))
///     .build()
///     .await?;
/// let limiter = RateLimiter::new(Strategy::SlidingWindowCounter, storage)?;
/// let limit = "10 per minute".parse()?;
/// let allowed = limiter.hit(&limit, &["127.0.0.1", "index"], 1).await?;
/// # let _ = allowed;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStorage {
    pub(super) inner: Arc<Inner>,
}

/// What the clones of a storage share.
pub(super) struct Inner {
    pub(super) connection: Connection,
    pub(super) key_prefix: String,
    pub(super) timeout: Duration,
    pub(super) backend: &'static str,
    pub(super) over_limit: Option<OverLimitCache>,
    /// Coalesces concurrent requests' script calls (on a cluster, per slot).
    pub(super) batcher: Option<batch::Batcher>,
    /// Lease mode, when on: fixed-window hits spent out of leases.
    pub(super) leases: Option<Leases>,
}

impl fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorage")
            .field("backend", &self.inner.backend)
            .field("key_prefix", &self.inner.key_prefix)
            .field("timeout", &self.inner.timeout)
            .field("over_limit_cache", &self.inner.over_limit)
            .finish_non_exhaustive()
    }
}

impl RedisStorage {
    /// The scheme of the URI this storage was opened with (`redis`, `redis+cluster`, …).
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend
    }

    /// The prefix of every key.
    pub fn key_prefix(&self) -> &str {
        &self.inner.key_prefix
    }

    /// The longest one operation may take.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// How many keys the over-limit cache holds now (expired ones included until swept), or
    /// `None` when it is off (see [`RedisStorageBuilder::over_limit_cache`](super::RedisStorageBuilder::over_limit_cache)).
    pub fn over_limit_cached(&self) -> Option<usize> {
        self.inner.over_limit.as_ref().map(OverLimitCache::len)
    }

    /// How many keys hold a lease entry now, or `None` when lease mode is off (see
    /// [`RedisStorageBuilder::lease`](super::RedisStorageBuilder::lease)).
    pub fn leased_keys(&self) -> Option<usize> {
        self.inner.leases.as_ref().map(|leases| leases.table.len())
    }

    pub(crate) fn over_limit_cache(&self) -> Option<&OverLimitCache> {
        self.inner.over_limit.as_ref()
    }

    /// The Redis keys of `limit` for `identifiers` under `strategy`, exactly as `limits` names
    /// them: `[LIMITS:LIMITER/…]`, or for the sliding window counter
    /// `[LIMITS:{LIMITER/…}/-1, LIMITS:{LIMITER/…}]` (previous, current); GCRA, which `limits`
    /// does not have, `[LIMITS:{LIMITER/…}/gcra]`.
    ///
    /// ```
    /// # #[cfg(feature = "redis")] {
    /// use limiter_core::storage::RedisStorage;
    /// use limiter_core::{RateLimit, Strategy};
    /// let limit: RateLimit = "2/minute".parse().unwrap();
    /// assert_eq!(
    ///     RedisStorage::keys_for("LIMITS", Strategy::SlidingWindowCounter, &limit, &["a"]),
    ///     ["LIMITS:{LIMITER/a/2/1/minute}/-1", "LIMITS:{LIMITER/a/2/1/minute}"]
    /// );
    /// # }
    /// ```
    pub fn keys_for(
        key_prefix: &str,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Vec<String> {
        let mut key = String::with_capacity(key_prefix.len() + 64);
        key.push_str(key_prefix);
        key.push(':');
        match strategy {
            Strategy::FixedWindow | Strategy::MovingWindow => {
                limit.write_key(identifiers, &mut key);
                vec![key]
            }
            Strategy::SlidingWindowCounter => {
                key.push('{');
                limit.write_key(identifiers, &mut key);
                key.push('}');
                let previous = format!("{key}/-1");
                vec![previous, key]
            }
            // Not a `limits` key (it has no GCRA); in the sliding pair's slot, for `clear`.
            Strategy::Gcra { .. } => {
                key.push('{');
                limit.write_key(identifiers, &mut key);
                key.push_str("}/gcra");
                vec![key]
            }
        }
    }

    pub(super) async fn bounded<T>(
        &self,
        operation: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StorageError> {
        bounded(self.inner.backend, self.inner.timeout, operation).await
    }

    /// Looks at one limit's window without counting anything.
    async fn peek(&self, strategy: Strategy, hit: &Hit<'_>) -> Result<Decision, StorageError> {
        let now = Timestamp::from(SystemTime::now());
        let script_hits = [self.script_hit(strategy, hit)];
        let peek = || {
            self.bounded(self.eval_batch(
                strategy,
                now.as_secs_f64(),
                &script_hits,
                PEEK_MODE,
                true,
            ))
        };
        let records = match peek().await {
            Err(error)
                if is_wrong_type(&error)
                    && self
                        .remove_wrong_types(strategy, std::slice::from_ref(hit))
                        .await? =>
            {
                peek().await?
            }
            other => other?,
        };
        match records.first() {
            Some(record) => Ok(decode(strategy, now, hit.limit, record)),
            None => Err(backend_error(self.inner.backend, unexpected("no record"))),
        }
    }
}

/// The contract: one script call per batch, behind the over-limit cache when it is on.
impl Backend for RedisStorage {
    fn name(&self) -> &'static str {
        self.inner.backend
    }

    fn over_limit_cache(&self) -> Option<&OverLimitCache> {
        RedisStorage::over_limit_cache(self)
    }

    async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        if hits.is_empty() {
            return Ok(Decisions::new());
        }
        if let (Some(leases), Strategy::FixedWindow) = (&self.inner.leases, strategy) {
            return self
                .bounded(self.acquire_leased(leases, hits, stop_at_first_breach))
                .await;
        }
        let now = Timestamp::from(SystemTime::now());
        let script_hits: Vec<ScriptHit> = hits
            .iter()
            .map(|hit| self.script_hit(strategy, hit))
            .collect();
        let mode = Mode {
            stop_at_first_breach,
            admitted_reset,
        };
        let records = match self
            .bounded(self.decide(strategy, now.as_secs_f64(), script_hits, mode))
            .await
        {
            Ok(records) => records,
            Err(error)
                if is_wrong_type(&error) && self.remove_wrong_types(strategy, hits).await? =>
            {
                let script_hits = hits
                    .iter()
                    .map(|hit| self.script_hit(strategy, hit))
                    .collect();
                self.bounded(self.decide(strategy, now.as_secs_f64(), script_hits, mode))
                    .await?
            }
            Err(error) => return Err(error),
        };
        Ok(hits
            .iter()
            .zip(&records)
            .map(|(hit, record)| decode(strategy, now, hit.limit, record))
            .collect())
    }

    async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        let decisions = self
            .acquire(
                strategy,
                std::slice::from_ref(hit),
                false,
                AdmittedReset::Exact,
            )
            .await?;
        decisions
            .first()
            .copied()
            .ok_or_else(|| backend_error(self.inner.backend, unexpected("no decision")))
    }

    async fn test(&self, strategy: Strategy, hit: Hit<'_>) -> Result<bool, StorageError> {
        Ok(self.peek(strategy, &hit).await?.allowed)
    }

    async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        let hit = Hit {
            limit,
            identifiers,
            cost: 0,
        };
        let decision = self.peek(strategy, &hit).await?;
        Ok(WindowStats {
            remaining: decision.remaining,
            reset_at: decision.reset_at,
        })
    }

    async fn clear(&self, limit: &RateLimit, identifiers: &[&str]) -> Result<(), StorageError> {
        let prefix = &self.inner.key_prefix;
        let plain = Self::keys_for(prefix, Strategy::FixedWindow, limit, identifiers);
        let sliding = Self::keys_for(prefix, Strategy::SlidingWindowCounter, limit, identifiers);
        let gcra = Self::keys_for(prefix, Strategy::GCRA, limit, identifiers);
        self.bounded(async {
            if self.inner.connection.is_cluster() {
                // Two slots: the plain key, and the hash-tagged ones.
                let mut first = redis::cmd("DEL");
                first.arg(&plain);
                let mut second = redis::cmd("DEL");
                second.arg(&sliding).arg(&gcra);
                futures_util::future::try_join(self.query(&first), self.query(&second)).await?;
            } else {
                let mut del = redis::cmd("DEL");
                del.arg(&plain).arg(&sliding).arg(&gcra);
                self.query(&del).await?;
            }
            Ok(())
        })
        .await
    }

    async fn reset(&self) -> Result<Option<u64>, StorageError> {
        self.remove_all().await
    }

    async fn check(&self) -> bool {
        let ping = redis::cmd("PING");
        self.bounded(self.query(&ping)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_those_of_limits() {
        let limit: RateLimit = "2/minute".parse().unwrap();
        assert_eq!(
            RedisStorage::keys_for(
                "LIMITS",
                Strategy::FixedWindow,
                &limit,
                &["127.0.0.1", "root"]
            ),
            ["LIMITS:LIMITER/127.0.0.1/root/2/1/minute"]
        );
        assert_eq!(
            RedisStorage::keys_for("P", Strategy::MovingWindow, &limit, &["a"]),
            ["P:LIMITER/a/2/1/minute"]
        );
        let sliding = RedisStorage::keys_for("P", Strategy::SlidingWindowCounter, &limit, &["a"]);
        assert_eq!(
            sliding,
            ["P:{LIMITER/a/2/1/minute}/-1", "P:{LIMITER/a/2/1/minute}"]
        );
        // One cluster slot for both sliding keys, and the GCRA key (cleared with them).
        use redis::cluster_routing::Slot;
        assert_eq!(Slot::for_key(&sliding[0]), Slot::for_key(&sliding[1]));
        let gcra = RedisStorage::keys_for("P", Strategy::GCRA, &limit, &["a"]);
        assert_eq!(gcra, ["P:{LIMITER/a/2/1/minute}/gcra"]);
        assert_eq!(Slot::for_key(&gcra[0]), Slot::for_key(&sliding[1]));
    }
}
