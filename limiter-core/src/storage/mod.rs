//! Where counters live, and the one-step decisions each backend makes on them.
//!
//! # Layout
//!
//! * `mod.rs` (here): [`Storage`], the enum over the built-in backends, and `dispatch!`, the
//!   one place that maps each of its operations to the variant's backend.
//! * `backend.rs`: the `Backend` trait, the contract every backend implements.
//! * `memory.rs`: [`MemoryStorage`], on `table.rs` (sharded, swept maps). The window arithmetic
//!   itself is the strategies' (`crate::strategy`).
//! * `redis/`, `memcached/`, `mongodb/`: the network backends, each behind its Cargo feature.
//! * `hit.rs`: [`Hit`], what a request asks of a storage, and [`Decisions`].
//! * `over_limit.rs`: the in-process cache of keys known to be over their limit, in front of a
//!   network backend; `error.rs`: [`StorageError`].
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
//!
//! The contract is still written down, as the crate-private `Backend` trait (`backend.rs`):
//! each variant's type implements it, and [`Storage`] reaches it through `dispatch!`, statically.
//!
//! # Adding a backend
//!
//! 1. A Cargo feature in `limiter-core/Cargo.toml` for its client library (optional
//!    dependencies), so that builds without it pay nothing.
//! 2. A folder `storage/<name>/` (or a file `storage/<name>.rs`), `#[cfg(feature = …)]`, with
//!    its public storage type and builder, and `impl Backend for` it: atomic decisions, keys and
//!    stored values those of Python's `limits` where `limits` has the backend, every call bounded
//!    by a timeout, typed errors ([`StorageError::Backend`], [`StorageError::Timeout`]).
//! 3. Its URI scheme: a [`StorageUri`](crate::uri::StorageUri) variant, its parsing in
//!    `uri/schemes.rs`, and its names in [`SCHEMES`](crate::uri::SCHEMES).
//! 4. Here, in `mod.rs`: the `mod` and `pub use` lines, a [`Storage`] variant and its `From`
//!    impl, one arm in `dispatch!`, one arm in [`Storage::connect`]; and in `error.rs` its
//!    scheme in `available_backends`.
//! 5. Tests against a real server under `tests/tests/`, started by `scripts/test-servers.sh`.

mod backend;
mod capacity;
mod error;
mod hit;
mod immediate;
#[cfg(feature = "redis")]
pub mod lease;
#[cfg(feature = "memcached")]
pub mod memcached;
mod memory;
#[cfg(feature = "mongodb")]
pub mod mongodb;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
mod over_limit;
#[cfg(feature = "redis")]
pub mod redis;
mod table;

pub use self::capacity::Capacity;
pub use self::error::{ConnectFailure, StorageError};
pub use self::hit::{AdmittedReset, Decisions, Hit};
#[cfg(feature = "redis")]
pub use self::lease::LeaseConfig;
#[cfg(feature = "memcached")]
pub use self::memcached::{MemcachedStorage, MemcachedStorageBuilder};
#[cfg(feature = "mongodb")]
pub use self::mongodb::{MongoDbStorage, MongoDbStorageBuilder};
#[cfg(feature = "redis")]
pub use self::redis::{RedisStorage, RedisStorageBuilder};
pub use crate::strategy::{Decision, WindowStats};
pub use memory::{MemoryStorage, MemoryStorageBuilder, DEFAULT_SWEEP_INTERVAL};
pub use over_limit::DEFAULT_OVER_LIMIT_CAPACITY;

use self::backend::Backend;
use self::error::not_built;
use self::over_limit::OverLimitCache;
use crate::notation::RateLimit;
use crate::strategy::Strategy;

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

/// The one place that maps a [`Storage`] to its backend: evaluates `$body` with `$backend`
/// bound to the variant's value, which implements [`Backend`]. A new backend adds its arm here.
///
/// Bodies call the contract as `Backend::method(backend, …)`: a backend's inherent method of
/// the same name (the memory storage's synchronous ones) would otherwise be picked.
macro_rules! dispatch {
    ($storage:expr, $backend:ident => $body:expr) => {
        match $storage {
            Storage::Memory($backend) => $body,
            #[cfg(feature = "redis")]
            Storage::Redis($backend) => $body,
            #[cfg(feature = "memcached")]
            Storage::Memcached($backend) => $body,
            #[cfg(feature = "mongodb")]
            Storage::MongoDb($backend) => $body,
        }
    };
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
        use crate::uri::StorageUri;
        match StorageUri::parse(uri)? {
            StorageUri::Memory => Ok(Storage::Memory(MemoryStorage::new())),
            #[cfg(feature = "redis")]
            StorageUri::Redis { .. }
            | StorageUri::RedisCluster { .. }
            | StorageUri::RedisSentinel { .. } => {
                Ok(Storage::Redis(RedisStorage::connect(uri).await?))
            }
            #[cfg(feature = "memcached")]
            StorageUri::Memcached { servers } => Ok(Storage::Memcached(
                MemcachedStorage::builder_for(servers).build().await?,
            )),
            #[cfg(feature = "mongodb")]
            StorageUri::MongoDb { url } => {
                Ok(Storage::MongoDb(MongoDbStorage::connect(url).await?))
            }
            // Reached for the backends whose Cargo feature is off.
            #[allow(unreachable_patterns)]
            other => Err(not_built(other.scheme_name())),
        }
    }

    /// The scheme name of the backend (`memory`, `redis`, …).
    pub fn backend_name(&self) -> &'static str {
        dispatch!(self, backend => Backend::name(backend))
    }

    /// Whether this backend can carry out `strategy` atomically.
    pub fn supports(&self, strategy: Strategy) -> bool {
        dispatch!(self, backend => Backend::supports(backend, strategy))
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
        // The hot path: decided at once, with no cache to consult.
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
        let decisions = dispatch!(self, backend => {
            Backend::acquire(backend, strategy, hits, stop_at_first_breach, admitted_reset).await?
        });
        if let Some(cache) = cache {
            cache.record(strategy, hits, &decisions, generation);
        }
        Ok(decisions)
    }

    /// The over-limit cache of a network backend, if it has one and it is on.
    fn over_limit_cache(&self) -> Option<&OverLimitCache> {
        dispatch!(self, backend => Backend::over_limit_cache(backend))
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
        let decision =
            dispatch!(self, backend => Backend::acquire_one(backend, strategy, hit).await?);
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
        dispatch!(self, backend => Backend::test(backend, strategy, hit).await)
    }

    /// The remaining amount and reset time of `limit` for `identifiers`.
    pub async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        dispatch!(self, backend => {
            Backend::window_stats(backend, strategy, limit, identifiers).await
        })
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
        let cleared = dispatch!(self, backend => Backend::clear(backend, limit, identifiers).await);
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
        let removed = dispatch!(self, backend => Backend::reset(backend).await);
        if let Some(cache) = cache {
            cache.reset();
        }
        removed
    }

    /// Whether the backend answers. Never fails and never blocks longer than the backend's
    /// configured timeout.
    pub async fn check(&self) -> bool {
        dispatch!(self, backend => Backend::check(backend).await)
    }
}

impl From<MemoryStorage> for Storage {
    fn from(memory: MemoryStorage) -> Self {
        Storage::Memory(memory)
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
