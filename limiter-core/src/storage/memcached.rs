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
//! * **Fixed window** (§3.4 of the behaviour reference): `incr key cost`; on a miss the counter is
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
//! * `clear()` deletes the fixed-window counter, its `/expires` companion and the current and
//!   previous sliding buckets.
//! * `check()` asks every server for its version, within the timeout.
//!
//! Expiry is memcached's: TTLs are whole seconds on the server's own second-granular clock, so a
//! fixed window may end up to a second early, as with Python.

use super::memory::SlidingBuckets;
use super::{Decision, Decisions, Hit, StorageError, WindowStats};
use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use crate::uri::{MemcachedServer, StorageUri};
use memcache::{CommandError, MemcacheError};
use parking_lot::RwLock;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

const BACKEND: &str = "memcached";

/// How long one operation (or connecting) may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// How many connections each server's pool holds at most, unless configured otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 16;

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

/// The source of the error [`Storage::reset`](super::Storage::reset) returns on memcached:
/// memcached cannot enumerate keys, and `flush_all` would wipe unrelated data too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "reset is not supported by the memcached storage: memcached cannot list the limiter's keys, \
     and flush_all would also delete every other application's data"
)]
pub struct ResetUnsupported;

/// A value on the server that is not what the limiter stores there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected value {value:?} at key {key:?}")]
pub struct UnexpectedValue {
    /// The memcached key.
    pub key: String,
    /// The value found (truncated to 64 bytes).
    pub value: String,
}

/// Rate-limit storage on one or several memcached servers (`memcached://…`).
///
/// Supports the fixed window and the sliding window counter; see the [module
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
        storage
            .run(|inner| {
                for server in &inner.servers {
                    server.call(|client| client.version().map(drop))?;
                }
                Ok(())
            })
            .await?;
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

    pub(crate) fn supports(strategy: Strategy) -> bool {
        !matches!(strategy, Strategy::MovingWindow)
    }

    pub(crate) async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
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

    pub(crate) async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        check_strategy(strategy)?;
        let hit = OwnedHit::new(hit);
        self.run(move |inner| inner.acquire(strategy, &hit)).await
    }

    pub(crate) async fn test(
        &self,
        strategy: Strategy,
        hit: Hit<'_>,
    ) -> Result<bool, StorageError> {
        check_strategy(strategy)?;
        let hit = OwnedHit::new(&hit);
        self.run(move |inner| inner.test(strategy, &hit)).await
    }

    pub(crate) async fn window_stats(
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

    pub(crate) async fn clear(
        &self,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<(), StorageError> {
        let hit = OwnedHit::new(&Hit {
            limit,
            identifiers,
            cost: 0,
        });
        self.run(move |inner| inner.clear(&hit)).await
    }

    pub(crate) async fn reset(&self) -> Result<Option<u64>, StorageError> {
        Err(StorageError::Backend {
            backend: BACKEND,
            source: Box::new(ResetUnsupported),
        })
    }

    pub(crate) async fn check(&self) -> bool {
        self.run(|inner| {
            for server in &inner.servers {
                server.call(|client| client.version().map(drop))?;
            }
            Ok(())
        })
        .await
        .is_ok()
    }

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

fn check_strategy(strategy: Strategy) -> Result<(), StorageError> {
    if MemcachedStorage::supports(strategy) {
        Ok(())
    } else {
        Err(StorageError::UnsupportedStrategy {
            strategy,
            backend: BACKEND,
        })
    }
}

fn backend_error(error: impl std::error::Error + Send + Sync + 'static) -> StorageError {
    StorageError::Backend {
        backend: BACKEND,
        source: Box::new(error),
    }
}

/// A hit with everything a blocking job needs, owned.
struct OwnedHit {
    /// The memcached-safe key.
    key: String,
    amount: u64,
    expiry_secs: u64,
    cost: u64,
}

impl OwnedHit {
    fn new(hit: &Hit<'_>) -> Self {
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

    fn expiry_nanos(&self) -> u64 {
        self.expiry_secs.saturating_mul(1_000_000_000)
    }

    fn expires_key(&self) -> String {
        format!("{}/expires", self.key)
    }

    fn bucket_key(&self, bucket: u64) -> String {
        format!("{}/{}", self.key, bucket)
    }
}

struct Inner {
    servers: Vec<Server>,
    timeout: Duration,
    pool_size: u32,
    /// Bounds the blocking jobs in flight.
    permits: Arc<Semaphore>,
    /// Fixed-window ends already known, so that a hit costs one round trip.
    window_ends: WindowEnds,
}

impl Inner {
    /// The precise wall clock: a network round trip dwarfs its cost, and reset times read back
    /// by clients must not lag the real time by the coarse clock's few milliseconds.
    fn now(&self) -> u64 {
        Timestamp::from(std::time::SystemTime::now()).as_nanos()
    }

    fn server_for(&self, key: &str) -> &Server {
        let mut best: Option<(&Server, u32)> = None;
        for server in &self.servers {
            let score = murmur3_32(&[server.name.as_bytes(), b"-", key.as_bytes()]);
            best = match best {
                Some((winner, high)) if high > score => Some((winner, high)),
                Some((winner, high)) if high == score && winner.name > server.name => {
                    Some((winner, high))
                }
                _ => Some((server, score)),
            };
        }
        // `build` refuses an empty server list.
        best.map(|(server, _)| server).unwrap_or(&self.servers[0])
    }

    fn get_count(&self, key: &str) -> Result<u64, StorageError> {
        let value: Option<String> = self.server_for(key).call(|client| client.get(key))?;
        value.map_or(Ok(0), |value| parse_count(key, &value))
    }

    /// The values of `keys`, one multi-get per server involved.
    fn get_many(&self, keys: &[&str]) -> Result<HashMap<String, String>, StorageError> {
        let mut by_server: Vec<(&Server, Vec<&str>)> = Vec::new();
        for key in keys {
            let server = self.server_for(key);
            match by_server
                .iter_mut()
                .find(|(known, _)| std::ptr::eq(*known, server))
            {
                Some((_, keys)) => keys.push(key),
                None => by_server.push((server, vec![key])),
            }
        }
        let mut values = HashMap::new();
        for (server, keys) in by_server {
            values.extend(server.call(|client| client.gets::<String>(&keys))?);
        }
        Ok(values)
    }

    /// `incr key delta`; on a miss `add key 0` with `ttl` and `incr` again. Returns the count.
    fn incr_or_create(&self, key: &str, delta: u64, ttl: u64) -> Result<u64, StorageError> {
        let server = self.server_for(key);
        let ttl = u32::try_from(ttl).unwrap_or(u32::MAX);
        // A key can expire between `add` and `incr`; a few attempts are plenty.
        for _ in 0..3 {
            match server.call_allowing_miss(|client| client.increment(key, delta))? {
                Some(count) => return Ok(count),
                None => server.call(|client| client.add(key, "0", ttl))?,
            }
        }
        Err(backend_error(MemcacheError::CommandError(
            CommandError::KeyNotFound,
        )))
    }

    fn acquire(&self, strategy: Strategy, hit: &OwnedHit) -> Result<Decision, StorageError> {
        match strategy {
            Strategy::SlidingWindowCounter => self.sliding_acquire(hit),
            _ => self.fixed_acquire(hit),
        }
    }

    fn fixed_acquire(&self, hit: &OwnedHit) -> Result<Decision, StorageError> {
        let now = self.now();
        let count = self.incr_or_create(&hit.key, hit.cost, hit.expiry_secs)?;
        let expires_key = hit.expires_key();
        let reset_at = if count == hit.cost {
            // This hit opened the window: record when it ends.
            let end = now.saturating_add(hit.expiry_nanos());
            let seconds = format!("{:.6}", Timestamp::from_nanos(end).as_secs_f64());
            let ttl = u32::try_from(hit.expiry_secs).unwrap_or(u32::MAX);
            self.server_for(&expires_key)
                .call(|client| client.set(&expires_key, seconds.as_str(), ttl))?;
            self.window_ends.remember(&hit.key, end, now);
            end
        } else if let Some(end) = self.window_ends.recall(&hit.key, now) {
            end
        } else {
            let end = self.read_expiry(&expires_key, now)?;
            self.window_ends.remember(&hit.key, end, now);
            end
        };
        Ok(Decision {
            allowed: count <= hit.amount,
            remaining: hit.amount.saturating_sub(count),
            reset_at: Timestamp::from_nanos(reset_at),
        })
    }

    /// The window end recorded in the `/expires` companion, or `now` without one (as Python).
    fn read_expiry(&self, expires_key: &str, now: u64) -> Result<u64, StorageError> {
        let value: Option<String> = self
            .server_for(expires_key)
            .call(|client| client.get(expires_key))?;
        Ok(value.as_deref().and_then(parse_epoch).unwrap_or(now))
    }

    /// The clock-aligned buckets for `now`, read with one multi-get.
    fn sliding_read(&self, hit: &OwnedHit, now: u64) -> Result<SlidingBuckets, StorageError> {
        let bucket = now / hit.expiry_nanos();
        let current_key = hit.bucket_key(bucket);
        let previous_key = hit.bucket_key(bucket.wrapping_sub(1));
        let values = self.get_many(&[&previous_key, &current_key])?;
        let count = |key: &str| {
            values
                .get(key)
                .map_or(Ok(0), |value| parse_count(key, value))
        };
        Ok(SlidingBuckets {
            bucket,
            current: count(&current_key)?,
            previous: count(&previous_key)?,
            expires_at: 0,
        })
    }

    fn sliding_acquire(&self, hit: &OwnedHit) -> Result<Decision, StorageError> {
        let expiry = hit.expiry_nanos();
        let now = self.now();
        let buckets = self.sliding_read(hit, now)?;
        let rejected = |buckets: SlidingBuckets, now: u64| {
            let stats = buckets.stats(hit.amount, now, expiry);
            Ok(Decision {
                allowed: false,
                remaining: stats.remaining,
                reset_at: stats.reset_at,
            })
        };
        if hit.cost > hit.amount
            || buckets.weighted_floor(now, expiry).saturating_add(hit.cost) > hit.amount
        {
            return rejected(buckets, now);
        }
        let current_key = hit.bucket_key(buckets.bucket);
        let count = self.incr_or_create(
            &current_key,
            hit.cost,
            hit.expiry_secs.saturating_mul(2).saturating_add(1),
        )?;
        // Race guard: other hits may have counted since the read. Re-check with what `incr`
        // returned and the previous bucket's share now (never negative: Python's `min(0, …)`
        // here drops the previous bucket from the check).
        let later = self.now().max(now);
        let previous_ttl = SlidingBuckets::previous_ttl(now, expiry).saturating_sub(later - now);
        let previous_share =
            (u128::from(buckets.previous) * u128::from(previous_ttl) / u128::from(expiry)) as u64;
        let after = SlidingBuckets {
            current: count,
            ..buckets
        };
        if previous_share.saturating_add(count) > hit.amount {
            self.server_for(&current_key)
                .call(|client| client.decrement(&current_key, hit.cost))?;
            let undone = SlidingBuckets {
                current: count.saturating_sub(hit.cost),
                ..buckets
            };
            return rejected(undone, now);
        }
        // Stats as of the read instant (same bucket as the keys used), with our count.
        let stats = after.stats(hit.amount, now, expiry);
        Ok(Decision {
            allowed: true,
            remaining: stats.remaining,
            reset_at: stats.reset_at,
        })
    }

    fn test(&self, strategy: Strategy, hit: &OwnedHit) -> Result<bool, StorageError> {
        match strategy {
            Strategy::SlidingWindowCounter => {
                let now = self.now();
                let buckets = self.sliding_read(hit, now)?;
                Ok(hit.cost <= hit.amount
                    && buckets
                        .weighted_floor(now, hit.expiry_nanos())
                        .saturating_add(hit.cost)
                        <= hit.amount)
            }
            _ => Ok(self.get_count(&hit.key)?.saturating_add(hit.cost) <= hit.amount),
        }
    }

    fn window_stats(
        &self,
        strategy: Strategy,
        hit: &OwnedHit,
    ) -> Result<WindowStats, StorageError> {
        let now = self.now();
        match strategy {
            Strategy::SlidingWindowCounter => {
                let buckets = self.sliding_read(hit, now)?;
                Ok(buckets.stats(hit.amount, now, hit.expiry_nanos()))
            }
            _ => {
                let expires_key = hit.expires_key();
                let values = self.get_many(&[&hit.key, &expires_key])?;
                let count = values
                    .get(&hit.key)
                    .map_or(Ok(0), |value| parse_count(&hit.key, value))?;
                let reset_at = match count {
                    0 => now,
                    _ => values
                        .get(&expires_key)
                        .and_then(|value| parse_epoch(value))
                        .unwrap_or(now),
                };
                Ok(WindowStats {
                    remaining: hit.amount.saturating_sub(count),
                    reset_at: Timestamp::from_nanos(reset_at),
                })
            }
        }
    }

    fn clear(&self, hit: &OwnedHit) -> Result<(), StorageError> {
        self.window_ends.forget(&hit.key);
        let bucket = self.now() / hit.expiry_nanos();
        let keys = [
            hit.key.clone(),
            hit.expires_key(),
            hit.bucket_key(bucket),
            hit.bucket_key(bucket.wrapping_sub(1)),
        ];
        for key in &keys {
            self.server_for(key).call(|client| client.delete(key))?;
        }
        Ok(())
    }
}

/// The most fixed-window ends remembered; past it, expired ones are dropped (all of them if
/// none has expired).
const WINDOW_ENDS_CAPACITY: usize = 65_536;

/// Fixed-window ends this process wrote or read, by counter key, until they pass. Only the
/// *reported* reset time comes from here, never a decision: a window restarted by another
/// process (or by memcached expiring the counter up to a second early) is reported with the
/// remembered, earlier end until that end passes and the companion is read again.
#[derive(Default)]
struct WindowEnds(parking_lot::Mutex<HashMap<String, u64>>);

impl WindowEnds {
    fn recall(&self, key: &str, now: u64) -> Option<u64> {
        self.0.lock().get(key).copied().filter(|&end| end > now)
    }

    fn remember(&self, key: &str, end: u64, now: u64) {
        if end <= now {
            return;
        }
        let mut ends = self.0.lock();
        if ends.len() >= WINDOW_ENDS_CAPACITY && !ends.contains_key(key) {
            ends.retain(|_, &mut known| known > now);
            if ends.len() >= WINDOW_ENDS_CAPACITY {
                ends.clear();
            }
        }
        ends.insert(key.to_owned(), end);
    }

    fn forget(&self, key: &str) {
        self.0.lock().remove(key);
    }
}

fn parse_count(key: &str, value: &str) -> Result<u64, StorageError> {
    value.trim().parse::<u64>().map_err(|_| {
        backend_error(UnexpectedValue {
            key: key.to_owned(),
            value: value.chars().take(64).collect(),
        })
    })
}

/// Float epoch seconds (the `/expires` companion) to nanoseconds; `None` if unreadable.
fn parse_epoch(value: &str) -> Option<u64> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Timestamp::from_secs_f64(seconds).as_nanos())
}

/// One memcached server: its name for hashing and its connection pool, replaced after errors.
struct Server {
    name: String,
    url: memcache::Url,
    timeout: Duration,
    pool_size: u32,
    client: RwLock<Arc<memcache::Client>>,
}

impl Server {
    fn new(
        server: &MemcachedServer,
        timeout: Duration,
        pool_size: u32,
    ) -> Result<Self, StorageError> {
        let seconds = timeout.as_secs_f64().max(0.001);
        let (name, url) = match server {
            MemcachedServer::Tcp(location) => {
                // pymemcache names a server "%s:%s" % (host, port): no brackets around IPv6.
                let name = format!("{}:{}", location.host, location.port);
                let url = format!(
                    "memcache://{location}?protocol=ascii&tcp_nodelay=true&timeout={seconds}"
                );
                (name, url)
            }
            MemcachedServer::Socket(path) => {
                let name = path.display().to_string();
                let mut url =
                    memcache::Url::parse("memcache:///?protocol=ascii").map_err(backend_error)?;
                url.set_path(&name);
                (name, url.to_string())
            }
        };
        let url = memcache::Url::parse(&url).map_err(backend_error)?;
        let client = Arc::new(new_client(&url, timeout, pool_size)?);
        Ok(Server {
            name,
            url,
            timeout,
            pool_size,
            client: RwLock::new(client),
        })
    }

    /// Runs one command. After an error other than a command-level answer, the pool is
    /// replaced so that no connection in an unknown state is reused.
    fn call<T>(
        &self,
        command: impl FnOnce(&memcache::Client) -> Result<T, MemcacheError>,
    ) -> Result<T, StorageError> {
        let client = Arc::clone(&self.client.read());
        match command(&client) {
            Ok(value) => Ok(value),
            Err(error) => {
                self.after_error(&error, &client);
                Err(self.storage_error(error))
            }
        }
    }

    /// Like [`call`](Self::call), with a miss (`NOT_FOUND`) as `None`.
    fn call_allowing_miss<T>(
        &self,
        command: impl FnOnce(&memcache::Client) -> Result<T, MemcacheError>,
    ) -> Result<Option<T>, StorageError> {
        let client = Arc::clone(&self.client.read());
        match command(&client) {
            Ok(value) => Ok(Some(value)),
            Err(MemcacheError::CommandError(CommandError::KeyNotFound)) => Ok(None),
            Err(error) => {
                self.after_error(&error, &client);
                Err(self.storage_error(error))
            }
        }
    }

    /// Replaces the pool after an error that may leave a connection out of step with the
    /// server (I/O, unreadable answer). Not after a command-level answer (`NOT_FOUND`, …), nor
    /// when no connection could be had (the pool then holds no bad connection).
    fn after_error(&self, error: &MemcacheError, client: &Arc<memcache::Client>) {
        if !matches!(
            error,
            MemcacheError::CommandError(_) | MemcacheError::PoolError(_)
        ) {
            self.replace_pool(client);
        }
    }

    fn replace_pool(&self, failed: &Arc<memcache::Client>) {
        let mut current = self.client.write();
        // Another thread may already have replaced it.
        if Arc::ptr_eq(&current, failed) {
            if let Ok(client) = new_client(&self.url, self.timeout, self.pool_size) {
                *current = Arc::new(client);
            }
        }
    }

    fn storage_error(&self, error: MemcacheError) -> StorageError {
        if let MemcacheError::IOError(io) = &error {
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return StorageError::Timeout {
                    backend: BACKEND,
                    timeout: self.timeout,
                };
            }
        }
        backend_error(ServerError {
            server: self.name.clone(),
            error,
        })
    }
}

/// An error from one server, naming it.
#[derive(Debug, thiserror::Error)]
#[error("{server}: {error}")]
pub struct ServerError {
    /// The server's name (`host:port` or socket path).
    pub server: String,
    /// What the `memcache` client reported.
    #[source]
    pub error: MemcacheError,
}

/// A client on a fresh pool: connections are opened on demand (none at creation), checked out
/// within `timeout`, and not health-checked on checkout (errors replace the pool instead).
fn new_client(
    url: &memcache::Url,
    timeout: Duration,
    pool_size: u32,
) -> Result<memcache::Client, StorageError> {
    let pool = r2d2::Pool::builder()
        .max_size(pool_size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build_unchecked(memcache::ConnectionManager::new(url.clone()));
    memcache::Client::with_pool(pool).map_err(backend_error)
}

/// MurmurHash3 x86 32-bit, seed 0, over the concatenation of `parts` (as pymemcache's
/// `murmur3_32` on ASCII text).
fn murmur3_32(parts: &[&[u8]]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut hash: u32 = 0;
    let mut length: u32 = 0;
    let mut block = [0u8; 4];
    let mut filled = 0;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    for part in parts {
        for &byte in *part {
            block[filled] = byte;
            filled += 1;
            length = length.wrapping_add(1);
            if filled == 4 {
                hash ^= mix(u32::from_le_bytes(block));
                hash = hash
                    .rotate_left(13)
                    .wrapping_mul(5)
                    .wrapping_add(0xe654_6b64);
                filled = 0;
            }
        }
    }
    if filled > 0 {
        let mut tail = 0u32;
        for (index, byte) in block[..filled].iter().enumerate() {
            tail |= u32::from(*byte) << (8 * index);
        }
        hash ^= mix(tail);
    }
    hash ^= length;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^= hash >> 16;
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_known_values() {
        // Reference values of MurmurHash3_x86_32 with seed 0.
        assert_eq!(murmur3_32(&[b""]), 0);
        assert_eq!(murmur3_32(&[b"hello"]), 0x248b_fa47);
        assert_eq!(murmur3_32(&[b"hello, world"]), 0x149b_bb7f);
        assert_eq!(
            murmur3_32(&[b"The quick brown fox ", b"jumps over the lazy dog"]),
            0x2e4f_f723
        );
    }

    /// Placements computed with pymemcache 4's `RendezvousHash` (HashClient's default) for the
    /// servers `127.0.0.1:52211` and `127.0.0.1:52212`.
    #[test]
    fn server_placement_matches_pymemcache() {
        let servers = ["127.0.0.1:52211", "127.0.0.1:52212"]
            .iter()
            .map(|name| {
                let (host, port) = name.split_once(':').unwrap();
                let location = crate::uri::Location {
                    host: host.to_owned(),
                    port: port.parse().unwrap(),
                };
                Server::new(&MemcachedServer::Tcp(location), DEFAULT_TIMEOUT, 1).unwrap()
            })
            .collect();
        let inner = Inner {
            servers,
            timeout: DEFAULT_TIMEOUT,
            pool_size: 1,
            permits: Arc::new(Semaphore::new(1)),
            window_ends: WindowEnds::default(),
        };
        let expected = [
            "52212", "52212", "52211", "52212", "52212", "52212", "52212", "52211",
        ];
        for (index, port) in expected.iter().enumerate() {
            let key = format!("LIMITER/spread{index}/5/1/minute");
            assert_eq!(
                inner.server_for(&key).name,
                format!("127.0.0.1:{port}"),
                "{key}"
            );
        }
    }

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

    #[test]
    fn epoch_parsing_never_panics() {
        assert_eq!(parse_epoch("1.5"), Some(1_500_000_000));
        assert_eq!(parse_epoch("nan"), None);
        assert_eq!(parse_epoch("-3"), None);
        assert_eq!(parse_epoch("garbage"), None);
        assert!(parse_count("k", "12x").is_err());
        assert_eq!(parse_count("k", "12").ok(), Some(12));
    }
}
