//! The Memcached backend (`memcached://host:port[,host:port…]`, `memcached:///path/to/socket`),
//! on the blocking [`memcache`] client, with the semantics of `limits`' `MemcachedStorage`.
//!
//! # Threads, pools, timeouts
//!
//! * **Off the async workers.** `memcache` is blocking, so every storage operation (a whole
//!   batch of hits included) runs as one job on tokio's blocking thread pool
//!   ([`tokio::task::spawn_blocking`]). At most `pool_size × servers` jobs run at once (a
//!   semaphore, held until the job really ends — even after its caller timed out), so a slow or
//!   dead server cannot make the storage spawn unbounded threads.
//!   It therefore needs a tokio runtime with its time driver (as the Redis storage); called
//!   outside any tokio runtime, an operation fails with [`StorageError::Backend`] instead of
//!   panicking.
//! * **One connection pool per server** (r2d2, at most [`pool_size`](MemcachedStorageBuilder::pool_size)
//!   connections, [`DEFAULT_POOL_SIZE`] by default). Connections are not health-checked on every
//!   checkout (that would cost a round trip per operation); instead, after any I/O or protocol
//!   error the server's whole pool is replaced by a fresh one, so a connection left
//!   half-read by a timeout is never reused and the storage recovers by itself once a stopped
//!   server is back.
//! * **Bounded.** Each operation (and connecting) is bounded by [`timeout`](MemcachedStorageBuilder::timeout)
//!   ([`DEFAULT_TIMEOUT`] by default): the caller gets [`StorageError::Timeout`] when it passes,
//!   and the same value is the TCP read/write timeout and the pool's checkout timeout, so the
//!   blocking job itself ends soon after. (Limits of the `memcache` crate: a TCP *connect* to an
//!   unreachable host, and reads on a Unix socket, have no timeout of their own; the caller is
//!   still answered within the timeout, only the background thread lingers.)
//!
//! # Several servers
//!
//! Keys are spread with client-side **rendezvous (highest random weight) hashing**: the server
//! of a key is the one with the highest `murmur3_32("{server}-{key}")` (seed 0), where a TCP
//! server is named `host:port` (an IPv6 host without brackets) and a socket by its path; ties
//! go to the greater name. This is the default of pymemcache's `HashClient`, which `limits` uses
//! for several servers, so a Python and a Rust service given the same server list place every
//! key on the same server (a unit test checks placements computed with pymemcache 4).
//! Adding or removing a server moves only the keys of that server. Every key (counter,
//! `/expires` companion, sliding bucket) is placed on its own, as Python does; a multi-get is
//! one round trip per server involved. (The `memcache` crate's own multi-server client hashes
//! with `DefaultHasher` modulo the number of servers, which is neither consistent nor stable
//! across Rust releases, so it is not used.)
//!
//! # Keys
//!
//! Memcached keys must not contain spaces or control characters and are at most 250 bytes.
//! [`memcached_key`] keeps a storage key **as it is** (so keys are those of `limits`, and a
//! Python deployment shares the counters) when it is made of printable ASCII (`!`..=`~`) and is
//! at most [`MAX_RAW_KEY_LENGTH`] (229) bytes long, which leaves room for the longest suffix
//! the backend appends (`/` and a 20-digit bucket number). Any other key becomes
//! `LIMITER/sha256/<64 hex digits of the SHA-256 of the key's UTF-8 bytes>`. Python sends such
//! keys raw and memcached rejects them.
//!
//! # Strategies
//!
//! * **Fixed window** (as Python's `limits`): `incr key cost`; on a miss the counter is
//!   created with `add key 0` and a TTL of the window length, then incremented — so every hit is
//!   exactly one atomic `incr`, and a lost `add` race costs nothing. (Python `add`s `cost`
//!   directly and `incr`s again only when its `add` lost; the classic `memcache` client does not
//!   report whether an ASCII `add` stored anything, so we always `incr` after it. The stored
//!   values and TTLs are the same.) The hit that takes the counter from 0 writes the
//!   `"{key}/expires"` companion (the window end as float epoch seconds, same TTL) so that reset
//!   times are known; later hits read it for the decision's reset time once per window and
//!   process (window ends are remembered in-process, at most 65,536 keys, until they pass), so a
//!   hit usually costs one round trip. Only the reported reset time can lag a window restarted
//!   elsewhere; decisions always come from the server's counter.
//! * **Sliding window counter**: clock-aligned buckets `"{key}/{now / expiry}"` (as the memory
//!   storage and Python's memcached storage), read together with one multi-get. The current
//!   bucket is created with a TTL of `2 × expiry + 1` seconds: Python uses `2 × expiry`, but
//!   memcached counts TTLs on a whole-second clock, so a bucket could vanish up to a second
//!   before the sliding window stops needing it. After incrementing, the weighted count is
//!   computed again with the count `incr` returned **and the previous bucket's share at that
//!   instant**; if it is above the amount, the increment is rolled back with `decr` and the hit
//!   rejected. (Python computes the previous share with `min(0, …)`, which drops the previous
//!   bucket from this race guard; we use `max(0, …)`.) With cost 1, concurrent hits on one key
//!   admit exactly the amount.
//! * **GCRA** (not in `limits`): the arrival time, nanoseconds since the epoch in decimal, under
//!   `"{key}/gcra"`, read with `gets` and written back with `cas` when a hit is admitted (a
//!   rejected hit writes nothing), with a TTL of the time until the bucket is full again plus
//!   a second. A lost `cas` (another hit wrote first) decides the hit again on the new value,
//!   so concurrent hits admit exactly what GCRA admits; after 64 losses in a row the hit fails
//!   with [`CasContention`]. A missing key is created first with `add key 0` (never hit), which
//!   never overwrites a racing creator. Time is this process's clock: keep the clocks of the
//!   processes that share a key in sync (NTP), as for the other strategies' reset times.
//! * **Moving window**: not supported (it needs an atomic list operation memcached does not
//!   have): [`Storage::supports`](super::Storage::supports) says no, so
//!   [`RateLimiter::new`](crate::RateLimiter::new) fails with
//!   [`StorageError::UnsupportedStrategy`]; calling the storage directly with it gives the same
//!   error.
//!
//! # Reset, clear, check
//!
//! * `reset()` fails with a [`StorageError::Backend`] whose source is [`ResetUnsupported`]:
//!   memcached cannot list keys, and `flush_all` would also wipe every other application's data
//!   on the servers. (Python raises `NotImplementedError`; Flask-Limiter logs a warning.)
//! * `clear()` deletes the fixed-window counter, its `/expires` companion, the current and
//!   previous sliding buckets and the GCRA arrival time.
//! * `check()` asks every server for its version, within the timeout.
//!
//! Expiry is memcached's: TTLs are whole seconds on the server's own second-granular clock, so a
//! fixed window may end up to a second early, as with Python.

mod error;
mod fixed_window;
mod gcra;
mod keys;
mod operations;
mod placement;
mod preflight;
mod server;
mod sliding_window;
mod window_ends;

pub use error::{CasContention, ResetUnsupported, ServerError, UnexpectedValue};
pub use keys::{memcached_key, MAX_KEY_LENGTH, MAX_RAW_KEY_LENGTH};

use super::backend::Backend;
use super::error::StorageError;
use super::hit::{AdmittedReset, Decisions, Hit};
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use crate::strategy::{Decision, WindowStats};
use crate::uri::{MemcachedServer, StorageUri};
use error::{backend_error, BACKEND};
use keys::OwnedHit;
use memcache::MemcacheError;
use operations::Inner;
use server::Server;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use window_ends::WindowEnds;

/// How long one operation (or connecting) may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// How many connections each server's pool holds at most, unless configured otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// Rate-limit storage on one or several memcached servers (`memcached://…`).
///
/// Supports the fixed window, the sliding window counter and GCRA; see the [module
/// documentation](self) for threads, pools, hashing, keys and the exact algorithms.
///
/// ```no_run
/// use limiter_core::storage::memcached::MemcachedStorage;
/// use limiter_core::{RateLimiter, Strategy};
/// use std::time::Duration;
///
/// # async fn example() -> Result<(), limiter_core::StorageError> {
/// let storage = MemcachedStorage::builder("memcached://10.0.0.1:11211,10.0.0.2:11211")?
///     .timeout(Duration::from_millis(300))
///     .build()
///     .await?;
/// let limiter = RateLimiter::new(Strategy::SlidingWindowCounter, storage)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemcachedStorage {
    inner: Arc<Inner>,
}

impl fmt::Debug for MemcachedStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<&str> = self
            .inner
            .servers
            .iter()
            .map(|server| server.name.as_str())
            .collect();
        f.debug_struct("MemcachedStorage")
            .field("servers", &servers)
            .field("timeout", &self.inner.timeout)
            .field("pool_size", &self.inner.pool_size)
            .finish()
    }
}

/// Configures a [`MemcachedStorage`].
#[derive(Debug, Clone)]
pub struct MemcachedStorageBuilder {
    servers: Vec<MemcachedServer>,
    timeout: Duration,
    pool_size: u32,
}

impl MemcachedStorageBuilder {
    /// The longest one operation (or connecting) may take; also the TCP read/write timeout and
    /// the pool checkout timeout. Defaults to [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most connections kept to each server (at least 1). Defaults to
    /// [`DEFAULT_POOL_SIZE`].
    pub fn pool_size(mut self, pool_size: u32) -> Self {
        self.pool_size = pool_size.max(1);
        self
    }

    /// Creates the pools and checks, within the timeout, that every server answers, so that a
    /// wrong address is reported at start-up.
    pub async fn build(self) -> Result<MemcachedStorage, StorageError> {
        let timeout = self.timeout;
        let servers = self
            .servers
            .iter()
            .map(|server| Server::new(server, timeout, self.pool_size))
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(backend_error(MemcacheError::BadURL(
                "no memcached server given".into(),
            )));
        }
        let permits = servers.len().saturating_mul(self.pool_size as usize);
        let storage = MemcachedStorage {
            inner: Arc::new(Inner {
                servers,
                timeout,
                pool_size: self.pool_size,
                permits: Arc::new(Semaphore::new(permits)),
                window_ends: WindowEnds::default(),
            }),
        };
        let uri = self
            .servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        storage
            .run(|inner| {
                for server in &inner.servers {
                    preflight::reachable(&server.name, inner.timeout).map_err(|error| {
                        backend_error(error::ServerError {
                            server: server.name.clone(),
                            error: MemcacheError::IOError(error),
                        })
                    })?;
                    server.call(|client| client.version().map(drop))?;
                }
                Ok(())
            })
            .await
            .map_err(|error| error::connect_error(format!("memcached://{uri}"), error))?;
        Ok(storage)
    }
}

impl MemcachedStorage {
    /// Connects to the servers a `memcached://` URI names, with the default settings.
    pub async fn connect(uri: &str) -> Result<Self, StorageError> {
        Self::builder(uri)?.build().await
    }

    /// Starts configuring a storage for a `memcached://` URI.
    pub fn builder(uri: &str) -> Result<MemcachedStorageBuilder, StorageError> {
        match StorageUri::parse(uri)? {
            StorageUri::Memcached { servers } => Ok(Self::builder_for(servers)),
            other => Err(StorageError::NotBuilt {
                scheme: other.scheme_name(),
                available: BACKEND,
            }),
        }
    }

    /// Starts configuring a storage for these servers.
    pub fn builder_for(servers: Vec<MemcachedServer>) -> MemcachedStorageBuilder {
        MemcachedStorageBuilder {
            servers,
            timeout: DEFAULT_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The name (`host:port` or socket path) of the server that holds the memcached key
    /// `key` (already made safe by [`memcached_key`]).
    pub fn server_for_key(&self, key: &str) -> &str {
        &self.inner.server_for(key).name
    }
}

/// The contract; each operation is one job on the blocking pool.
impl Backend for MemcachedStorage {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn supports(&self, strategy: Strategy) -> bool {
        supports(strategy)
    }

    async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        _admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        check_strategy(strategy)?;
        let hits: Vec<OwnedHit> = hits.iter().map(OwnedHit::new).collect();
        self.run(move |inner| {
            let mut decisions = Decisions::new();
            for hit in &hits {
                let decision = inner.acquire(strategy, hit)?;
                decisions.push(decision);
                if stop_at_first_breach && !decision.allowed {
                    break;
                }
            }
            Ok(decisions)
        })
        .await
    }

    async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        check_strategy(strategy)?;
        let hit = OwnedHit::new(hit);
        self.run(move |inner| inner.acquire(strategy, &hit)).await
    }

    async fn test(&self, strategy: Strategy, hit: Hit<'_>) -> Result<bool, StorageError> {
        check_strategy(strategy)?;
        let hit = OwnedHit::new(&hit);
        self.run(move |inner| inner.test(strategy, &hit)).await
    }

    async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        check_strategy(strategy)?;
        let hit = OwnedHit::new(&Hit {
            limit,
            identifiers,
            cost: 0,
        });
        self.run(move |inner| inner.window_stats(strategy, &hit))
            .await
    }

    async fn clear(&self, limit: &RateLimit, identifiers: &[&str]) -> Result<(), StorageError> {
        let hit = OwnedHit::new(&Hit {
            limit,
            identifiers,
            cost: 0,
        });
        self.run(move |inner| inner.clear(&hit)).await
    }

    async fn reset(&self) -> Result<Option<u64>, StorageError> {
        Err(StorageError::Backend {
            backend: BACKEND,
            source: Box::new(ResetUnsupported),
        })
    }

    async fn check(&self) -> bool {
        self.run(|inner| {
            for server in &inner.servers {
                server.call(|client| client.version().map(drop))?;
            }
            Ok(())
        })
        .await
        .is_ok()
    }
}

impl MemcachedStorage {
    /// Runs `job` on the blocking pool, within the timeout.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Inner) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let timeout = self.inner.timeout;
        // Outside a tokio runtime `spawn_blocking` and the timer would panic: say so instead.
        let runtime = tokio::runtime::Handle::try_current().map_err(backend_error)?;
        let inner = Arc::clone(&self.inner);
        let bounded = async move {
            let permit = Arc::clone(&inner.permits)
                .acquire_owned()
                .await
                .map_err(backend_error)?;
            let task = runtime.spawn_blocking(move || {
                let result = job(&inner);
                drop(permit);
                result
            });
            task.await.map_err(backend_error)?
        };
        match tokio::time::timeout(timeout, bounded).await {
            Ok(result) => result,
            Err(_) => Err(StorageError::Timeout {
                backend: BACKEND,
                timeout,
            }),
        }
    }
}

/// Whether memcached can carry `strategy` out atomically: not the moving window.
fn supports(strategy: Strategy) -> bool {
    !matches!(strategy, Strategy::MovingWindow)
}

fn check_strategy(strategy: Strategy) -> Result<(), StorageError> {
    if supports(strategy) {
        Ok(())
    } else {
        Err(StorageError::UnsupportedStrategy {
            strategy,
            backend: BACKEND,
        })
    }
}
