//! Redis, Redis Cluster and Redis Sentinel storage (and the Valkey aliases), compatible with
//! Python `limits` deployments.
//!
//! * **One atomic script call per decision batch**: [`Storage::acquire`](super::Storage::acquire)
//!   sends all the hits of a request (one per limit) to one Lua script, by `EVALSHA` (the script is
//!   loaded again after a `NOSCRIPT` reply, e.g. after a server restart), so checking a request
//!   against three limits costs one round trip and one script call, where Python costs three.
//! * **Concurrent requests share script calls** (standalone and sentinel): the requests that are
//!   waiting at the same moment go to the server as one script call, which decides each of them
//!   in order with its own `stop_at_first_breach`. Nothing waits for a batch to fill; under load
//!   this cuts the server's work per request by the parsing, lookup and start-up of a script call
//!   (see `batch.rs`). A batch is one atomic script run, so counts stay exact.
//! * **Replies in binary**: each decided hit comes back as one byte and two or four
//!   little-endian doubles (`struct.pack`), which is cheaper for the server than formatting
//!   numbers as text, and exact for every count a Lua script can hold (2⁵³).
//! * **Reset times only when asked**: [`Storage::acquire_with`](super::Storage::acquire_with)
//!   with [`AdmittedReset::UpperBound`] skips the fixed window's `PTTL` for admitted hits (the
//!   middleware asks for it only when it sends headers or serves `CurrentLimits`).
//! * **Shared with Python**: keys are `{prefix}:{limits key}` (sliding window:
//!   `{prefix}:{{limits key}}` and `{prefix}:{{limits key}}/-1`) and each hit writes what `limits`'
//!   own scripts write, so a Flask-Limiter service and ours on one Redis enforce one limit.
//! * **Bounded**: every operation (connection included) is bounded by a timeout
//!   ([`DEFAULT_TIMEOUT`] unless [configured](RedisStorageBuilder::timeout)); a server that is
//!   down or slow gives [`StorageError::Timeout`] or [`StorageError::Backend`], never a panic or a
//!   hang, and the storage reconnects by itself once the server is back.
//! * **Cluster**: see [the cluster module](self#cluster) below; **Sentinel**: the master is found
//!   through the sentinels and followed across failovers.
//!
//! # Differences from `limits`, and limits of this backend
//!
//! * The sliding window counter is anchored at the first hit (as `limits` on Redis), not at clock
//!   boundaries (as on the memory storage).
//! * Reset times use `PTTL` (milliseconds) where `limits` uses `TTL` (whole seconds), and a
//!   sliding-window reset that `limits` would report as "now" because a TTL is an exact multiple
//!   of the period (a counter read in the millisecond it was created) is reported one period
//!   later. Decisions and stored values are unaffected.
//! * `reset` uses `SCAN` + `UNLINK` on every master (never `KEYS`), so it does not block the
//!   server; it is not atomic with respect to concurrent hits.
//! * Sentinel reads always go to the master (`limits`' `use_replicas` is not offered: a decision
//!   is a write). Sentinel URIs have no TLS form (as in `limits`).
//!
//! # TLS
//!
//! `rediss://` and `valkeys://` (and TLS cluster nodes) connect over TLS with
//! [rustls](https://docs.rs/rustls) and verify the server's certificate and host name:
//!
//! * **Trusted roots**: by default the platform's root certificates, loaded by
//!   `rustls-native-certs` (the system store; the `SSL_CERT_FILE` and `SSL_CERT_DIR` environment
//!   variables, when set, are used instead, as with OpenSSL). A private CA is given with
//!   [`RedisStorageBuilder::tls_root_certificates`], which then **replaces** the platform roots.
//!   This is what Python's `?ssl_ca_certs=/path/ca.pem` does with redis-py: pass the contents of
//!   that file (`std::fs::read("/path/ca.pem")?`). The `ssl_*` query parameters of a `limits` URI
//!   are not read by this crate; `?ssl_cert_reqs=none` has no equivalent except `#insecure` below.
//! * **Mutual TLS**: [`RedisStorageBuilder::tls_client_certificate`] (Python's `ssl_certfile` and
//!   `ssl_keyfile`).
//! * **`#insecure`** (`rediss://host:6380/0#insecure`, which disables certificate verification in
//!   the `redis` crate) is rejected at connect with a typed [`StorageError::Backend`]: this build
//!   does not enable the `redis` crate's `tls-rustls-insecure` feature, so an unverified
//!   connection cannot happen by accident. Use a private CA instead, even for tests.
//! * **Crypto provider**: when a TLS connection is made and the process has no default rustls
//!   `CryptoProvider` yet, rustls' `ring` provider is installed as the process default; an
//!   application that installed its own first keeps it.
//!
//! # Cluster
//!
//! A Lua script may only touch keys of one hash slot. The keys of one hit always share one, but
//! the hits of a batch often do not (hash-tagging them together would rename them and break
//! Python compatibility). A batch in one slot is one call. Otherwise, without
//! `stop_at_first_breach` it is one call per slot, sent concurrently; with it, consecutive hits of
//! one slot are one call and the calls are made in order, stopping at the first rejected hit.
//!
//! # Layout
//!
//! * `mod.rs` (here): [`RedisStorage`] and its side of the storage contract.
//! * `builder.rs`: [`RedisStorageBuilder`]; `connection/`: opening and using the connection
//!   (`standalone.rs`, `cluster.rs`, `sentinel.rs`, `tls.rs`).
//! * `scripts.rs` and the `.lua` files: the server-side decisions; `calls.rs`: sending them
//!   (`slots.rs` splits a cluster batch by slot, `batch.rs` coalesces concurrent requests);
//!   `decode.rs`: their records to decisions.
//! * `reset.rs`: `SCAN` + `UNLINK` on every master.

mod batch;
mod builder;
mod calls;
mod connection;
mod decode;
mod reset;
mod scripts;
mod slots;

pub use builder::RedisStorageBuilder;

use super::backend::Backend;
use super::over_limit::{self, OverLimitCache};
use super::{AdmittedReset, Decision, Decisions, Hit, StorageError, WindowStats};
use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use connection::Connection;
use decode::decode;
use redis::{RedisError, RedisResult};
use scripts::{Mode, ScriptHit};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The key prefix of `limits` (`LIMITS:LIMITER/…`), used unless configured otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "LIMITS";

/// How long one storage operation (or connecting) may take before it fails with
/// [`StorageError::Timeout`], unless configured otherwise: 1 second. A rate limiter must not hold
/// requests for long when its storage is unwell, but a loaded server or a failover can take a few
/// hundred milliseconds; lower it if your application would rather fail fast.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

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
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    key_prefix: String,
    timeout: Duration,
    backend: &'static str,
    over_limit: Option<OverLimitCache>,
    /// Coalesces concurrent requests' script calls (standalone and sentinel connections).
    batcher: Option<batch::Batcher>,
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

/// Runs `operation` within `timeout`, mapping its errors to [`StorageError`].
async fn bounded<T>(
    backend: &'static str,
    timeout: Duration,
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) if error.is_timeout() => Err(StorageError::Timeout { backend, timeout }),
        Ok(Err(error)) => Err(backend_error(backend, error)),
        Err(_) => Err(StorageError::Timeout { backend, timeout }),
    }
}

fn backend_error(
    backend: &'static str,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StorageError {
    StorageError::Backend {
        backend,
        source: error.into(),
    }
}

/// A reply the scripts never give.
fn unexpected(what: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Client,
        "unexpected reply from the rate-limit script",
        what.to_owned(),
    ))
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
    /// `None` when it is off (see [`RedisStorageBuilder::over_limit_cache`]).
    pub fn over_limit_cached(&self) -> Option<usize> {
        self.inner.over_limit.as_ref().map(OverLimitCache::len)
    }

    pub(crate) fn over_limit_cache(&self) -> Option<&OverLimitCache> {
        self.inner.over_limit.as_ref()
    }

    /// The Redis keys of `limit` for `identifiers` under `strategy`, exactly as `limits` names
    /// them: `[LIMITS:LIMITER/…]`, or for the sliding window counter
    /// `[LIMITS:{LIMITER/…}/-1, LIMITS:{LIMITER/…}]` (previous, current).
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
        }
    }

    async fn bounded<T>(
        &self,
        operation: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StorageError> {
        bounded(self.inner.backend, self.inner.timeout, operation).await
    }

    /// Looks at one limit's window without counting anything.
    async fn peek(&self, strategy: Strategy, hit: &Hit<'_>) -> Result<Decision, StorageError> {
        let now = Timestamp::from(SystemTime::now());
        let script_hits = [self.script_hit(strategy, hit)];
        let records = self
            .bounded(self.eval_batch(strategy, now.as_secs_f64(), &script_hits, PEEK_MODE, true))
            .await?;
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
        let now = Timestamp::from(SystemTime::now());
        let script_hits: Vec<ScriptHit> = hits
            .iter()
            .map(|hit| self.script_hit(strategy, hit))
            .collect();
        let mode = Mode {
            stop_at_first_breach,
            admitted_reset,
        };
        let records = self
            .bounded(self.decide(strategy, now.as_secs_f64(), script_hits, mode))
            .await?;
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
        self.bounded(async {
            if self.inner.connection.is_cluster() {
                // Two slots: the plain key, and the hash-tagged pair.
                let mut first = redis::cmd("DEL");
                first.arg(&plain);
                let mut second = redis::cmd("DEL");
                second.arg(&sliding);
                futures_util::future::try_join(self.query(&first), self.query(&second)).await?;
            } else {
                let mut del = redis::cmd("DEL");
                del.arg(&plain).arg(&sliding);
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
        // One cluster slot for both sliding keys.
        use redis::cluster_routing::Slot;
        assert_eq!(Slot::for_key(&sliding[0]), Slot::for_key(&sliding[1]));
    }
}
