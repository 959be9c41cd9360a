//! Where counters live, and the one-step decisions each backend makes on them.
//!
//! # Why an enum and not a trait object
//!
//! [`Storage`] is an enum over the built-in backends rather than a `dyn Storage` trait object:
//!
//! * the limiter sits on every request's hot path, and an object-safe async trait must box the
//!   future of every call (one allocation per request). With an enum, the memory backend's
//!   decision is a plain synchronous call the compiler inlines into the request future;
//! * a decision is not a sequence of generic `get`/`incr` primitives but one *strategy-level*
//!   operation ([`Storage::acquire`]) that each backend carries out atomically in a single step:
//!   a lock on one shard for memory, one Lua script for Redis, an `incr`/`add` pair for Memcached,
//!   an update pipeline for MongoDB. A trait narrow enough to be generic would force several round
//!   trips and races; a trait wide enough to avoid them is the enum's method set anyway;
//! * the set of backends is the set of storage URIs we parse, which is closed and versioned with
//!   the crate (the enum is `#[non_exhaustive]` so adding one is not a breaking change).

mod immediate;
#[cfg(feature = "memcached")]
pub mod memcached;
mod memory;
#[cfg(feature = "mongodb")]
pub mod mongodb;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
mod over_limit;
#[cfg(feature = "redis")]
pub mod redis;

#[cfg(feature = "memcached")]
pub use self::memcached::{MemcachedStorage, MemcachedStorageBuilder};
#[cfg(feature = "mongodb")]
pub use self::mongodb::{MongoDbStorage, MongoDbStorageBuilder};
#[cfg(feature = "redis")]
pub use self::redis::{RedisStorage, RedisStorageBuilder};
pub use memory::{MemoryStorage, MemoryStorageBuilder, DEFAULT_SWEEP_INTERVAL};
#[cfg(feature = "redis")]
use over_limit::OverLimitCache;
pub use over_limit::DEFAULT_OVER_LIMIT_CAPACITY;

use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use smallvec::SmallVec;
use std::time::Duration;

/// One hit to count: `cost` against `limit` for the client and scope named by `identifiers`.
///
/// The storage key is `limit.key_for(identifiers)`, e.g. `LIMITER/127.0.0.1/fast/2/1/minute`.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The limit to count against.
    pub limit: &'a RateLimit,
    /// The parts of the key between the namespace and the limit, usually `[client, scope]`.
    pub identifiers: &'a [&'a str],
    /// How much this request deducts (1 for most requests).
    pub cost: u64,
}

/// The result of one [`Hit`]: whether it was admitted, and the window afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// `true` if the hit was within the limit.
    pub allowed: bool,
    /// What is left of the limit after this hit (0 when rejected).
    pub remaining: u64,
    /// When the window resets (fixed window) or next frees capacity (moving, sliding).
    pub reset_at: Timestamp,
}

/// How exact the reset time of an admitted hit must be, for
/// [`Storage::acquire_with`].
///
/// A rejected hit's reset time is always exact (it is what a 429 reports, and what the
/// over-limit cache keeps), and `remaining` is exact either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AdmittedReset {
    /// The exact reset time: what response headers report. The default.
    #[default]
    Exact,
    /// A reset time no earlier than the exact one: at most one window from now. For callers
    /// that only need the admission, as Flask-Limiter without headers. It saves one read per hit
    /// where the backend must ask for the time (Redis, fixed window: `PTTL`); the others report
    /// the exact time anyway.
    UpperBound,
}

/// The state of one limit's window for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStats {
    /// What is left of the limit.
    pub remaining: u64,
    /// When the window resets (fixed window) or next frees capacity (moving, sliding).
    pub reset_at: Timestamp,
}

/// The decisions of a batch, in the order of its hits. Inline for up to four limits, so checking a
/// request does not allocate.
pub type Decisions = SmallVec<[Decision; 4]>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The storage URI could not be parsed.
    #[error(transparent)]
    Uri(#[from] crate::uri::UriError),
    /// The strategy cannot be carried out atomically on this backend.
    #[error("the {strategy} strategy is not supported by the {backend} storage")]
    UnsupportedStrategy {
        /// The strategy that was asked for.
        strategy: Strategy,
        /// The backend's scheme name.
        backend: &'static str,
    },
    /// The URI names a backend that this build of `limiter-core` does not contain.
    #[error(
        "the {scheme} storage backend is not built in this version of limiter-core \
         (available: {available}){hint}",
        hint = feature_hint(scheme)
    )]
    NotBuilt {
        /// The scheme of the URI.
        scheme: &'static str,
        /// The schemes this build supports.
        available: &'static str,
    },
    /// The backend could not be reached or answered with an error.
    #[error("{backend} storage error: {source}")]
    Backend {
        /// The backend's scheme name.
        backend: &'static str,
        /// What the client library reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend did not answer in time.
    #[error("{backend} storage did not answer within {timeout:?}")]
    Timeout {
        /// The backend's scheme name.
        backend: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },
}

/// The schemes this build of the crate can open (backends are Cargo features).
fn available_backends() -> &'static str {
    static AVAILABLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AVAILABLE.get_or_init(|| {
        let built = |scheme: &str| match scheme {
            "memory" => true,
            "memcached" => cfg!(feature = "memcached"),
            "rediss" | "valkeys" => cfg!(all(feature = "redis", feature = "tls")),
            mongodb if mongodb.starts_with("mongodb") => cfg!(feature = "mongodb"),
            // redis…, valkey…
            _ => cfg!(feature = "redis"),
        };
        let schemes: Vec<&str> = crate::uri::SCHEMES
            .into_iter()
            .filter(|scheme| built(scheme))
            .collect();
        schemes.join(", ")
    })
}

/// A backend this build lacks, named by `scheme`.
fn not_built(scheme: &'static str) -> StorageError {
    StorageError::NotBuilt {
        scheme,
        available: available_backends(),
    }
}

/// How to build in the backend of `scheme` (appended to [`StorageError::NotBuilt`]'s message):
/// the Cargo features it needs, which limiter-axum forwards under the same names.
fn feature_hint(scheme: &str) -> &'static str {
    match scheme {
        "memory" => "",
        "memcached" => {
            "; enable its Cargo feature: limiter-core = { features = [\"memcached\"] } \
             (or the same feature of limiter-axum)"
        }
        "rediss" | "valkeys" => {
            "; enable its Cargo features: limiter-core = { features = [\"redis\", \"tls\"] } \
             (or the same features of limiter-axum)"
        }
        mongodb if mongodb.starts_with("mongodb") => {
            "; enable its Cargo feature: limiter-core = { features = [\"mongodb\"] } \
             (or the same feature of limiter-axum)"
        }
        _ => {
            "; enable its Cargo feature: limiter-core = { features = [\"redis\"] } \
             (or the same feature of limiter-axum)"
        }
    }
}

/// A rate-limit storage: one of the built-in backends.
///
/// Cloning is cheap and shares the same counters (and connections).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Storage {
    /// In-process counters: [`MemoryStorage`].
    Memory(MemoryStorage),
    /// Redis or Valkey, standalone, cluster or sentinel: [`RedisStorage`].
    #[cfg(feature = "redis")]
    Redis(RedisStorage),
    /// One or several memcached servers: [`MemcachedStorage`] (no moving window).
    #[cfg(feature = "memcached")]
    Memcached(MemcachedStorage),
    /// MongoDB: [`MongoDbStorage`] (Cargo feature `mongodb`, off by default).
    #[cfg(feature = "mongodb")]
    MongoDb(MongoDbStorage),
}

impl Storage {
    /// Opens the storage a URI names (`memory://`, `redis://host:port`, …), as
    /// Flask-Limiter's `storage_uri`. Network backends connect here, so a bad URI or an
    /// unreachable server is reported at start-up rather than on the first request.
    ///
    /// A `mongodb://` or `mongodb+srv://` URI needs the `mongodb` feature (off by default);
    /// without it the result is [`StorageError::NotBuilt`], whose message says how to enable it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let storage = limiter_core::Storage::connect("memory://").await?;
    /// assert_eq!(storage.backend_name(), "memory");
    /// let error = limiter_core::Storage::connect("cassandra://db:9042").await.unwrap_err();
    /// assert!(error.to_string().contains("unknown storage scheme"));
    /// # Ok::<(), limiter_core::StorageError>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(uri: &str) -> Result<Storage, StorageError> {
        let parsed = crate::uri::StorageUri::parse(uri)?;
        match parsed {
            crate::uri::StorageUri::Memory => Ok(Storage::Memory(MemoryStorage::new())),
            #[cfg(feature = "redis")]
            crate::uri::StorageUri::Redis { .. }
            | crate::uri::StorageUri::RedisCluster { .. }
            | crate::uri::StorageUri::RedisSentinel { .. } => {
                Ok(Storage::Redis(RedisStorage::connect(uri).await?))
            }
            #[cfg(feature = "memcached")]
            crate::uri::StorageUri::Memcached { servers } => Ok(Storage::Memcached(
                MemcachedStorage::builder_for(servers).build().await?,
            )),
            #[cfg(feature = "mongodb")]
            crate::uri::StorageUri::MongoDb { url } => {
                Ok(Storage::MongoDb(MongoDbStorage::connect(url).await?))
            }
            // Reached for the backends whose Cargo feature is off.
            #[allow(unreachable_patterns)]
            other => Err(not_built(other.scheme_name())),
        }
    }

    /// The scheme name of the backend (`memory`, `redis`, …).
    pub fn backend_name(&self) -> &'static str {
        match self {
            Storage::Memory(_) => "memory",
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis.backend_name(),
            #[cfg(feature = "memcached")]
            Storage::Memcached(_) => "memcached",
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(_) => "mongodb",
        }
    }

    /// Whether this backend can carry out `strategy` atomically.
    pub fn supports(&self, strategy: Strategy) -> bool {
        match self {
            Storage::Memory(_) => {
                let _ = strategy;
                true
            }
            #[cfg(feature = "redis")]
            Storage::Redis(_) => true,
            #[cfg(feature = "memcached")]
            Storage::Memcached(_) => MemcachedStorage::supports(strategy),
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(_) => true,
        }
    }

    /// Counts every hit of `hits` in order, each decided atomically, and returns their decisions.
    ///
    /// With `stop_at_first_breach`, hits after the first rejected one are not counted and have no
    /// decision (the result is shorter than `hits`), as Flask-Limiter's `fail_on_first_breach`.
    /// Network backends send the whole batch in one round trip, or none when their over-limit
    /// cache already knows the answer: with `stop_at_first_breach` when the first hit is a key
    /// known to be over its limit, otherwise when every hit is (see
    /// [`RedisStorageBuilder::over_limit_cache`]).
    pub async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> Result<Decisions, StorageError> {
        self.acquire_with(strategy, hits, stop_at_first_breach, AdmittedReset::Exact)
            .await
    }

    /// [`acquire`](Self::acquire), with the reset times of admitted hits only as exact as
    /// `admitted_reset` asks.
    ///
    /// ```
    /// use limiter_core::{AdmittedReset, Hit, MemoryStorage, RateLimit, Storage, Strategy};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let storage = Storage::from(MemoryStorage::new());
    /// let limit: RateLimit = "2 per minute".parse()?;
    /// let hit = Hit { limit: &limit, identifiers: &["client"], cost: 1 };
    /// let decisions = storage
    ///     .acquire_with(Strategy::FixedWindow, &[hit], true, AdmittedReset::UpperBound)
    ///     .await?;
    /// assert!(decisions[0].allowed);
    /// assert_eq!(decisions[0].remaining, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    // Irrefutable when no network backend is built.
    #[allow(irrefutable_let_patterns)]
    pub async fn acquire_with(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        if let Storage::Memory(memory) = self {
            return Ok(memory.acquire(strategy, hits, stop_at_first_breach));
        }
        let cache = self.over_limit_cache();
        if let Some(cache) = cache {
            if let Some(decisions) = cache.answer(strategy, hits, stop_at_first_breach) {
                return Ok(decisions);
            }
        }
        let generation = cache.map_or(0, |cache| cache.generation());
        let decisions = self
            .acquire_remote(strategy, hits, stop_at_first_breach, admitted_reset)
            .await?;
        if let Some(cache) = cache {
            cache.record(strategy, hits, &decisions, generation);
        }
        Ok(decisions)
    }

    async fn acquire_remote(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        // Only Redis has to ask for the reset time separately.
        let _ = admitted_reset;
        match self {
            Storage::Memory(memory) => Ok(memory.acquire(strategy, hits, stop_at_first_breach)),
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => {
                redis
                    .acquire(strategy, hits, stop_at_first_breach, admitted_reset)
                    .await
            }
            #[cfg(feature = "memcached")]
            Storage::Memcached(memcached) => {
                memcached
                    .acquire(strategy, hits, stop_at_first_breach)
                    .await
            }
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(mongodb) => {
                mongodb.acquire(strategy, hits, stop_at_first_breach).await
            }
        }
    }

    /// The over-limit cache of a network backend, if it has one and it is on.
    #[cfg(feature = "redis")]
    fn over_limit_cache(&self) -> Option<&OverLimitCache> {
        match self {
            Storage::Redis(redis) => redis.over_limit_cache(),
            _ => None,
        }
    }

    #[cfg(not(feature = "redis"))]
    fn over_limit_cache(&self) -> Option<&over_limit::OverLimitCache> {
        None
    }

    /// Counts one hit, decided atomically: the common case of [`acquire`](Self::acquire),
    /// without the batch's bookkeeping.
    #[allow(irrefutable_let_patterns)]
    pub async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        if let Storage::Memory(memory) = self {
            return Ok(memory.acquire_one(strategy, hit));
        }
        let cache = self.over_limit_cache();
        if let Some(cache) = cache {
            if let Some(decisions) = cache.answer(strategy, std::slice::from_ref(hit), true) {
                return Ok(decisions[0]);
            }
        }
        let generation = cache.map_or(0, |cache| cache.generation());
        let decision = match self {
            Storage::Memory(memory) => memory.acquire_one(strategy, hit),
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis.acquire_one(strategy, hit).await?,
            #[cfg(feature = "memcached")]
            Storage::Memcached(memcached) => memcached.acquire_one(strategy, hit).await?,
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(mongodb) => mongodb.acquire_one(strategy, hit).await?,
        };
        if let Some(cache) = cache {
            cache.record(
                strategy,
                std::slice::from_ref(hit),
                std::slice::from_ref(&decision),
                generation,
            );
        }
        Ok(decision)
    }

    /// Whether `cost` more would be admitted now, without counting anything.
    ///
    /// A key in a network backend's over-limit cache is answered `false` without a round trip.
    pub async fn test(&self, strategy: Strategy, hit: Hit<'_>) -> Result<bool, StorageError> {
        if let Some(cache) = self.over_limit_cache() {
            if cache.rejects(strategy, &hit) {
                return Ok(false);
            }
        }
        match self {
            Storage::Memory(memory) => Ok(memory.test(strategy, hit)),
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis.test(strategy, hit).await,
            #[cfg(feature = "memcached")]
            Storage::Memcached(memcached) => memcached.test(strategy, hit).await,
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(mongodb) => mongodb.test(strategy, hit).await,
        }
    }

    /// The remaining amount and reset time of `limit` for `identifiers`.
    pub async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        match self {
            Storage::Memory(memory) => Ok(memory.window_stats(strategy, limit, identifiers)),
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis.window_stats(strategy, limit, identifiers).await,
            #[cfg(feature = "memcached")]
            Storage::Memcached(memcached) => {
                memcached.window_stats(strategy, limit, identifiers).await
            }
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(mongodb) => mongodb.window_stats(strategy, limit, identifiers).await,
        }
    }

    /// Forgets the state of `limit` for `identifiers`, under every strategy.
    ///
    /// This also drops the key from this storage's over-limit cache (network backends). A
    /// `clear` made elsewhere (another process, the CLI) is seen by this process's cache only
    /// once the cached `reset_at` passes: until then the key is still answered as over its limit.
    pub async fn clear(&self, limit: &RateLimit, identifiers: &[&str]) -> Result<(), StorageError> {
        // Before (so that no answer already in flight is cached) and after (so that none that
        // reached the server before the clear is).
        let cache = self.over_limit_cache();
        if let Some(cache) = cache {
            cache.clear(limit, identifiers);
        }
        let cleared = match self {
            Storage::Memory(memory) => {
                memory.clear(limit, identifiers);
                Ok(())
            }
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis.clear(limit, identifiers).await,
            #[cfg(feature = "memcached")]
            Storage::Memcached(memcached) => memcached.clear(limit, identifiers).await,
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(mongodb) => mongodb.clear(limit, identifiers).await,
        };
        if let Some(cache) = cache {
            cache.clear(limit, identifiers);
        }
        cleared
    }

    /// Forgets every limit's state; returns how many keys were removed, where known.
    ///
    /// This also empties this storage's over-limit cache; a `reset` made elsewhere is seen here
    /// only as each cached `reset_at` passes (see [`clear`](Self::clear)).
    pub async fn reset(&self) -> Result<Option<u64>, StorageError> {
        let cache = self.over_limit_cache();
        if let Some(cache) = cache {
            cache.reset();
        }
        let removed = match self {
            Storage::Memory(memory) => Ok(Some(memory.reset())),
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis.reset().await,
            #[cfg(feature = "memcached")]
            Storage::Memcached(memcached) => memcached.reset().await,
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(mongodb) => mongodb.reset().await,
        };
        if let Some(cache) = cache {
            cache.reset();
        }
        removed
    }

    /// Whether the backend answers. Never fails and never blocks longer than the backend's
    /// configured timeout.
    pub async fn check(&self) -> bool {
        match self {
            Storage::Memory(_) => true,
            #[cfg(feature = "redis")]
            Storage::Redis(redis) => redis.check().await,
            #[cfg(feature = "memcached")]
            Storage::Memcached(memcached) => memcached.check().await,
            #[cfg(feature = "mongodb")]
            Storage::MongoDb(mongodb) => mongodb.check().await,
        }
    }
}

#[cfg(feature = "redis")]
impl From<RedisStorage> for Storage {
    fn from(redis: RedisStorage) -> Self {
        Storage::Redis(redis)
    }
}

#[cfg(feature = "memcached")]
impl From<MemcachedStorage> for Storage {
    fn from(memcached: MemcachedStorage) -> Self {
        Storage::Memcached(memcached)
    }
}

#[cfg(feature = "mongodb")]
impl From<MongoDbStorage> for Storage {
    fn from(mongodb: MongoDbStorage) -> Self {
        Storage::MongoDb(mongodb)
    }
}

impl From<MemoryStorage> for Storage {
    fn from(memory: MemoryStorage) -> Self {
        Storage::Memory(memory)
    }
}

#[cfg(all(test, not(feature = "mongodb")))]
mod without_mongodb {
    use super::{Storage, StorageError};

    /// Without the `mongodb` feature a MongoDB URI is a typed error that says how to build it in.
    #[test]
    fn mongodb_uri_is_not_built_with_a_hint() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for uri in [
            "mongodb://127.0.0.1:27017",
            "mongodb+srv://cluster.example.com",
        ] {
            let error = runtime
                .block_on(Storage::connect(uri))
                .expect_err("not built");
            assert!(
                matches!(error, StorageError::NotBuilt { scheme, .. } if scheme.starts_with("mongodb")),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains(r#"limiter-core = { features = ["mongodb"] }"#),
                "{message}"
            );
        }
    }
}
