//! The in-process backend: sharded hash maps, a lock per shard, expired state swept away.
//!
//! The window arithmetic is the strategies' own (`crate::strategy`); this module keeps their
//! states, one table per strategy, and decides under the tables' locks.
//!
//! * **No global lock**: keys are spread over 64 independently locked maps, so
//!   concurrent requests contend only when their keys share a shard, and then only for the few
//!   nanoseconds a decision takes. A key's shard is chosen by its identifiers alone, so the
//!   limits of one request (one client, one scope) share a shard and are decided under one lock.
//! * **Exact**: every decision (read, compare, write) happens under its shard's lock, so N
//!   concurrent hits against a limit of L admit exactly L.
//! * **Bounded**: entries are keyed by a 64-bit hash of the storage key (seeded at random per
//!   storage, so clients cannot aim collisions), not by the key string, which keeps a fixed-window
//!   counter at 24 bytes of table slot. A background thread sweeps expired entries shard by shard
//!   and shrinks tables left mostly empty, so memory returns close to its baseline after a flood of
//!   distinct keys; the request path never scans. Two distinct keys of one storage collide with a
//!   probability of about n²/2⁶⁵ (3·10⁻⁸ for a million live keys); a collision merges two counters.

use super::backend::Backend;
use super::error::StorageError;
use super::hit::{AdmittedReset, Decisions, Hit};
use super::table::{Expiring, Table, SHARD_BITS};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::notation::RateLimit;
use crate::strategy::fixed_window::Counter;
use crate::strategy::gcra::{ArrivalTime, Rate};
use crate::strategy::moving_window::Log;
use crate::strategy::sliding_window::Buckets;
use crate::strategy::Strategy;
use crate::strategy::{Decision, WindowStats};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU64;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the background sweeper looks for expired entries, unless configured otherwise.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// In-process rate-limit storage (`memory://`): a first-class backend for single-process
/// deployments, supporting every strategy.
///
/// Counters are not shared between processes: with several replicas, use a network storage.
///
/// ```
/// use limiter_core::{MemoryStorage, RateLimit, RateLimiter, Strategy};
///
/// # tokio_test_block_on(async {
/// let limiter = RateLimiter::new(Strategy::FixedWindow, MemoryStorage::new())?;
/// let limit: RateLimit = "2 per minute".parse()?;
/// assert!(limiter.hit(&limit, &["client", "route"], 1).await?);
/// assert!(limiter.hit(&limit, &["client", "route"], 1).await?);
/// assert!(!limiter.hit(&limit, &["client", "route"], 1).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStorage {
    inner: Arc<Inner>,
}

/// Configures a [`MemoryStorage`].
#[derive(Debug)]
pub struct MemoryStorageBuilder {
    clock: TimeSource,
    sweep_interval: Option<Duration>,
}

impl MemoryStorageBuilder {
    /// Reads time from `clock` instead of the system clock (for deterministic tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = TimeSource::Custom(Arc::new(clock));
        self
    }

    /// How often a background thread removes expired entries; `None` disables the thread (call
    /// [`MemoryStorage::sweep`] yourself). Defaults to [`DEFAULT_SWEEP_INTERVAL`].
    pub fn sweep_interval(mut self, interval: Option<Duration>) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Creates the storage and, if configured, starts its sweeper thread. The thread ends by
    /// itself once every clone of the storage is dropped.
    pub fn build(self) -> MemoryStorage {
        let inner = Arc::new(Inner {
            clock: self.clock,
            keys: KeyHasher::new(),
            counters: Table::new(),
            sliding: Table::new(),
            windows: Table::new(),
            arrivals: Table::new(),
        });
        if let Some(interval) = self.sweep_interval {
            spawn_sweeper(Arc::downgrade(&inner), interval);
        }
        MemoryStorage { inner }
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("entries", &self.len())
            .field("clock", &self.inner.clock)
            .finish()
    }
}

impl MemoryStorage {
    /// A storage on the system clock, swept every [`DEFAULT_SWEEP_INTERVAL`].
    pub fn new() -> Self {
        MemoryStorage::builder().build()
    }

    /// Starts configuring a storage.
    pub fn builder() -> MemoryStorageBuilder {
        MemoryStorageBuilder {
            clock: TimeSource::System,
            sweep_interval: Some(DEFAULT_SWEEP_INTERVAL),
        }
    }

    /// How many keys hold state (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        let inner = &self.inner;
        inner.counters.len() + inner.sliding.len() + inner.windows.len() + inner.arrivals.len()
    }

    /// Whether no key holds state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries the tables can hold without growing. It shrinks again after a sweep
    /// that leaves a table mostly empty.
    pub fn capacity(&self) -> usize {
        let inner = &self.inner;
        inner.counters.capacity()
            + inner.sliding.capacity()
            + inner.windows.capacity()
            + inner.arrivals.capacity()
    }

    /// Removes every expired entry now, one shard at a time; returns how many were removed.
    pub fn sweep(&self) -> usize {
        self.inner.sweep()
    }

    pub(crate) fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> Decisions {
        if let [hit] = hits {
            // A request with one limit: no cursor, and the list is filled in place.
            let mut decisions = Decisions::new();
            decisions.push(self.acquire_one(strategy, hit));
            return decisions;
        }
        let now = self.inner.clock.now_nanos();
        self.inner
            .acquire_all(strategy, now, hits, stop_at_first_breach)
    }

    /// One hit, without the batch's bookkeeping (no list of decisions, no cursor).
    #[inline]
    pub(crate) fn acquire_one(&self, strategy: Strategy, hit: &Hit<'_>) -> Decision {
        let inner = &*self.inner;
        let now = inner.clock.now_nanos();
        let key = inner.key_hash(hit.limit, hit.identifiers);
        match strategy {
            Strategy::FixedWindow => inner
                .counters
                .with_entry(key, |counter| decide_fixed(counter, hit, now)),
            Strategy::MovingWindow => inner
                .windows
                .with_entry(key, |log| decide_moving(log, hit, now)),
            Strategy::SlidingWindowCounter => inner
                .sliding
                .with_entry(key, |buckets| decide_sliding(buckets, hit, now)),
            Strategy::Gcra { burst } => inner
                .arrivals
                .with_entry(key, |arrival| decide_gcra(arrival, hit, now, burst)),
        }
    }

    pub(crate) fn test(&self, strategy: Strategy, hit: Hit<'_>) -> bool {
        let inner = &self.inner;
        let now = inner.clock.now_nanos();
        let key = inner.key_hash(hit.limit, hit.identifiers);
        let amount = hit.limit.amount();
        let expiry = expiry_nanos(hit.limit);
        match strategy {
            Strategy::FixedWindow => inner
                .counters
                .read(key, |counter| counter.admits(hit.cost, amount, now))
                .unwrap_or_else(|| Counter::default().admits(hit.cost, amount, now)),
            Strategy::MovingWindow => inner
                .windows
                .read(key, |log| log.admits(hit.cost, amount, now, expiry))
                .unwrap_or_else(|| Log::default().admits(hit.cost, amount, now, expiry)),
            Strategy::SlidingWindowCounter => inner
                .sliding
                .read(key, |buckets| buckets.rolled(now, expiry))
                .unwrap_or_default()
                .admits(hit.cost, amount, now, expiry),
            Strategy::Gcra { burst } => inner
                .arrivals
                .read(key, |arrival| *arrival)
                .unwrap_or_default()
                .admits(hit.cost, now, Rate::new(amount, expiry, burst)),
        }
    }

    pub(crate) fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> WindowStats {
        let inner = &self.inner;
        let now = inner.clock.now_nanos();
        let key = inner.key_hash(limit, identifiers);
        let expiry = expiry_nanos(limit);
        let amount = limit.amount();
        match strategy {
            Strategy::FixedWindow => inner
                .counters
                .read(key, |counter| counter.stats(amount, now))
                .unwrap_or(WindowStats {
                    remaining: amount,
                    reset_at: Timestamp::from_nanos(now),
                }),
            Strategy::MovingWindow => inner
                .windows
                .read(key, |log| log.stats(amount, now, expiry))
                .unwrap_or_else(|| Log::default().stats(amount, now, expiry)),
            Strategy::SlidingWindowCounter => inner
                .sliding
                .read(key, |buckets| buckets.rolled(now, expiry))
                .unwrap_or_default()
                .stats(amount, now, expiry),
            Strategy::Gcra { burst } => inner
                .arrivals
                .read(key, |arrival| *arrival)
                .unwrap_or_default()
                .stats(now, Rate::new(amount, expiry, burst)),
        }
    }

    pub(crate) fn clear(&self, limit: &RateLimit, identifiers: &[&str]) {
        let inner = &self.inner;
        let key = inner.key_hash(limit, identifiers);
        inner.counters.remove(key);
        inner.sliding.remove(key);
        inner.windows.remove(key);
        inner.arrivals.remove(key);
    }

    pub(crate) fn reset(&self) -> u64 {
        let inner = &self.inner;
        (inner.counters.clear()
            + inner.sliding.clear()
            + inner.windows.clear()
            + inner.arrivals.clear()) as u64
    }
}

/// Hashes storage keys, seeded at random per storage: foldhash over the identifiers, then the
/// limit's three numbers mixed in by seeded multiplications.
///
/// The limit's part does not depend on the identifiers, so it is computed alongside their hash
/// rather than after it: one multiplication follows the identifiers' hash on the path to the key.
struct KeyHasher {
    hasher: foldhash::fast::RandomState,
    /// Secret seeds for the limit's part and the final mix, drawn from `hasher`.
    seeds: [u64; 4],
}

impl KeyHasher {
    fn new() -> Self {
        let hasher = foldhash::fast::RandomState::default();
        let seeds = [1u64, 2, 3, 4].map(|n| hasher.hash_one(n));
        KeyHasher { hasher, seeds }
    }

    /// The key of `limit` for the identifiers hashed to `identifiers_hash`: folded 128-bit
    /// products (foldhash's own mixing step), of the amount with the window length, then of
    /// that (with the unit) with the identifiers' hash.
    #[inline]
    fn combine(&self, identifiers_hash: u64, limit: &RateLimit) -> u64 {
        let [a, b, c, d] = self.seeds;
        let window = folded_multiply(limit.amount() ^ a, limit.multiples() ^ b)
            ^ u64::from(limit.granularity() as u8);
        folded_multiply(identifiers_hash ^ c, window ^ d)
    }
}

/// The high and low halves of a full 64×64-bit product, xor-ed: every output bit depends on
/// every input bit of either factor.
#[inline]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let product = u128::from(x) * u128::from(y);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Where the storage reads the time: the system clock called directly (inlined, no virtual call
/// on the request path), or a clock the builder was given.
#[derive(Debug)]
enum TimeSource {
    System,
    Custom(Arc<dyn Clock>),
}

impl TimeSource {
    /// Now, in nanoseconds since the Unix epoch.
    #[inline]
    fn now_nanos(&self) -> u64 {
        match self {
            TimeSource::System => SystemClock.now().as_nanos(),
            TimeSource::Custom(clock) => clock.now().as_nanos(),
        }
    }
}

struct Inner {
    clock: TimeSource,
    keys: KeyHasher,
    counters: Table<Counter>,
    sliding: Table<Buckets>,
    windows: Table<Log>,
    /// GCRA: 8 bytes of state per key, 16 with its key.
    arrivals: Table<ArrivalTime>,
}

impl Inner {
    /// The hash of the storage key `LIMITER/<identifiers…>/<amount>/<multiples>/<unit>`, taken
    /// over its parts rather than over the joined string: nothing is built or copied per request.
    /// It is [`Inner::limit_key`] of [`Inner::identifiers_hash`].
    #[inline]
    fn key_hash(&self, limit: &RateLimit, identifiers: &[&str]) -> u64 {
        self.limit_key(self.identifiers_hash(identifiers), limit)
    }

    /// The seeded hash of the identifiers alone, which the limits of one request share (and
    /// [`Inner::decide_each`] takes once for them).
    ///
    /// foldhash folds each part's length into the hash along with its bytes (and an empty part
    /// still changes it), which keeps apart identifiers that would join into the same string
    /// (`["a/b", "c"]` and `["a", "b/c"]`), which Python's memory storage merges by accident.
    /// (Network backends store the string itself, so there they stay shared.)
    #[inline]
    fn identifiers_hash(&self, identifiers: &[&str]) -> u64 {
        let mut hasher = self.keys.hasher.build_hasher();
        for identifier in identifiers {
            hasher.write(identifier.as_bytes());
        }
        hasher.finish()
    }

    /// The key of `limit` for the identifiers hashed to `identifiers_hash`.
    ///
    /// The bits that choose the shard ([`SHARD_BITS`]) are those of the identifiers' hash alone:
    /// the limits of one request (same client, same scope) share a shard, which
    /// [`Inner::acquire_all`] then locks once. Two keys of one client then collide with a
    /// probability of 2⁻⁵⁸ rather than 2⁻⁶⁴, which adds nothing noticeable to the figure above.
    #[inline]
    fn limit_key(&self, identifiers_hash: u64, limit: &RateLimit) -> u64 {
        let hash = self.keys.combine(identifiers_hash, limit);
        (hash & !SHARD_BITS) | (identifiers_hash & SHARD_BITS)
    }

    /// Decides `hits` in order, stopping after the first rejection if asked; consecutive hits
    /// in one shard (the limits of one request) under one lock.
    fn acquire_all(
        &self,
        strategy: Strategy,
        now: u64,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> Decisions {
        match strategy {
            Strategy::FixedWindow => self.decide_each(
                &self.counters,
                hits,
                stop_at_first_breach,
                |counter, hit| decide_fixed(counter, hit, now),
            ),
            Strategy::MovingWindow => {
                self.decide_each(&self.windows, hits, stop_at_first_breach, |log, hit| {
                    decide_moving(log, hit, now)
                })
            }
            Strategy::SlidingWindowCounter => {
                self.decide_each(&self.sliding, hits, stop_at_first_breach, |buckets, hit| {
                    decide_sliding(buckets, hit, now)
                })
            }
            Strategy::Gcra { burst } => self.decide_each(
                &self.arrivals,
                hits,
                stop_at_first_breach,
                |arrival, hit| decide_gcra(arrival, hit, now, burst),
            ),
        }
    }

    /// Decides each of `hits` with `decide` on its entry in `table`, in order; stops after the
    /// first rejection if `stop_at_first_breach`. The identifiers are hashed once for
    /// consecutive hits that name the same strings (the limits of one request).
    fn decide_each<V: Expiring>(
        &self,
        table: &Table<V>,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        decide: impl Fn(&mut V, &Hit<'_>) -> Decision,
    ) -> Decisions {
        let mut cursor = table.cursor();
        let mut decisions = Decisions::new();
        let mut hashed: Option<(&[&str], u64)> = None;
        for hit in hits {
            let identifiers_hash = match hashed {
                Some((identifiers, hash)) if same_strings(identifiers, hit.identifiers) => hash,
                _ => {
                    let hash = self.identifiers_hash(hit.identifiers);
                    hashed = Some((hit.identifiers, hash));
                    hash
                }
            };
            let key = self.limit_key(identifiers_hash, hit.limit);
            let decision = decide(cursor.entry(key), hit);
            decisions.push(decision);
            if stop_at_first_breach && !decision.allowed {
                break;
            }
        }
        decisions
    }

    fn sweep(&self) -> usize {
        let now = self.clock.now_nanos();
        self.counters.sweep(now)
            + self.sliding.sweep(now)
            + self.windows.sweep(now)
            + self.arrivals.sweep(now)
    }
}

fn spawn_sweeper(inner: Weak<Inner>, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("limiter-memory-sweeper".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            match inner.upgrade() {
                Some(inner) => {
                    inner.sweep();
                }
                None => return,
            }
        });
    // Without the thread, expired entries are still reset in place when their key is hit again;
    // only keys never seen again would stay until `sweep` is called. Not worth failing for.
    drop(spawned);
}

/// Whether two lists of identifiers are the very same strings (same addresses and lengths): a
/// cheap test that never says yes for different contents. Equal strings at different addresses
/// answer no, and are hashed again.
#[inline]
fn same_strings(first: &[&str], second: &[&str]) -> bool {
    first.len() == second.len()
        && first
            .iter()
            .zip(second)
            .all(|(a, b)| std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len())
}

#[inline]
fn decide_fixed(counter: &mut Counter, hit: &Hit<'_>, now: u64) -> Decision {
    counter.hit(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
}

#[inline]
fn decide_moving(log: &mut Log, hit: &Hit<'_>, now: u64) -> Decision {
    log.acquire(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
}

#[inline]
fn decide_sliding(buckets: &mut Buckets, hit: &Hit<'_>, now: u64) -> Decision {
    buckets.acquire(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
}

#[inline]
fn decide_gcra(
    arrival: &mut ArrivalTime,
    hit: &Hit<'_>,
    now: u64,
    burst: Option<NonZeroU64>,
) -> Decision {
    let rate = Rate::new(hit.limit.amount(), expiry_nanos(hit.limit), burst);
    arrival.acquire(hit.cost, now, rate)
}

#[inline]
fn expiry_nanos(limit: &RateLimit) -> u64 {
    limit.expiry_seconds().saturating_mul(1_000_000_000)
}

impl Expiring for Counter {
    fn expires_at(&self) -> u64 {
        Counter::expires_at(self)
    }
}

impl Expiring for Log {
    fn expires_at(&self) -> u64 {
        Log::expires_at(self)
    }
}

impl Expiring for ArrivalTime {
    fn expires_at(&self) -> u64 {
        ArrivalTime::expires_at(self)
    }
}

impl Expiring for Buckets {
    fn expires_at(&self) -> u64 {
        Buckets::expires_at(self)
    }
}

/// The contract, over the synchronous methods above: every future is ready at once.
impl Backend for MemoryStorage {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        _admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        Ok(MemoryStorage::acquire(
            self,
            strategy,
            hits,
            stop_at_first_breach,
        ))
    }

    async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        Ok(MemoryStorage::acquire_one(self, strategy, hit))
    }

    async fn test(&self, strategy: Strategy, hit: Hit<'_>) -> Result<bool, StorageError> {
        Ok(MemoryStorage::test(self, strategy, hit))
    }

    async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        Ok(MemoryStorage::window_stats(
            self,
            strategy,
            limit,
            identifiers,
        ))
    }

    async fn clear(&self, limit: &RateLimit, identifiers: &[&str]) -> Result<(), StorageError> {
        MemoryStorage::clear(self, limit, identifiers);
        Ok(())
    }

    async fn reset(&self) -> Result<Option<u64>, StorageError> {
        Ok(Some(MemoryStorage::reset(self)))
    }

    async fn check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::table::{shard_index, SHARDS};
    use super::*;

    fn limits() -> [RateLimit; 3] {
        ["5 per second", "10 per minute", "100 per hour"].map(|text| text.parse().unwrap())
    }

    /// The limits of one request (same identifiers) land in one shard, under distinct keys, while
    /// distinct clients still spread over the shards.
    #[test]
    fn limits_of_one_request_share_a_shard() {
        let storage = MemoryStorage::new();
        let inner = &storage.inner;
        let limits = limits();
        let mut shards_used = std::collections::HashSet::new();
        for client in 0..1000 {
            let client = format!("10.0.{}.{}", client / 256, client % 256);
            let identifiers = [client.as_str(), "route"];
            let keys = limits
                .each_ref()
                .map(|limit| inner.key_hash(limit, &identifiers));
            assert!(keys
                .iter()
                .all(|&key| shard_index(key) == shard_index(keys[0])));
            assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
            shards_used.insert(shard_index(keys[0]));
        }
        assert_eq!(shards_used.len(), SHARDS, "1000 clients use every shard");
    }

    /// The identifiers hashed once for several hits (same strings), hashed again for equal
    /// strings at other addresses, and the single-hit path: all reach the same counters.
    #[test]
    fn every_path_to_a_key_reaches_the_same_counter() {
        let storage = MemoryStorage::builder().sweep_interval(None).build();
        let [second, minute, _] = limits();
        let shared = ["client", "route"];
        let (client, route) = (String::from("client"), String::from("route"));
        let copied = [client.as_str(), route.as_str()];
        assert!(!same_strings(&shared, &copied) && same_strings(&shared, &shared));
        let hit = |limit, identifiers| Hit {
            limit,
            identifiers,
            cost: 2,
        };
        let batch = [
            hit(&second, &shared[..]),
            hit(&minute, &shared[..]),
            hit(&second, &copied[..]),
        ];
        let remaining: Vec<u64> = storage
            .acquire(Strategy::FixedWindow, &batch, false)
            .iter()
            .map(|decision| decision.remaining)
            .collect();
        assert_eq!(remaining, [3, 8, 1]);
        let single = storage.acquire_one(Strategy::FixedWindow, &hit(&minute, &copied[..]));
        assert_eq!(single.remaining, 6);
        assert_eq!(
            storage.inner.key_hash(&second, &shared),
            storage.inner.key_hash(&second, &copied)
        );
    }

    /// A batch whose hits fall in different shards (different identifiers) is decided hit by hit
    /// under each shard's lock, in order, stopping after the first rejection when asked.
    #[test]
    fn a_batch_across_shards_is_decided_in_order() {
        let storage = MemoryStorage::new();
        let inner = &storage.inner;
        let limit: RateLimit = "1 per minute".parse().unwrap();
        let first = ["client-a"];
        let second = (0..)
            .map(|n| format!("client-{n}"))
            .find(|client| {
                shard_index(inner.key_hash(&limit, &[client.as_str()]))
                    != shard_index(inner.key_hash(&limit, &first))
            })
            .unwrap();
        let second = [second.as_str()];
        let hits = [&first, &second].map(|identifiers| Hit {
            limit: &limit,
            identifiers,
            cost: 1,
        });
        let allowed = |decisions: Decisions| -> Vec<bool> {
            decisions.iter().map(|decision| decision.allowed).collect()
        };
        let now = 1_000_000_000;
        let strategy = Strategy::FixedWindow;
        assert_eq!(
            allowed(inner.acquire_all(strategy, now, &hits[..1], false)),
            [true]
        );
        assert_eq!(
            allowed(inner.acquire_all(strategy, now, &hits, true)),
            [false]
        );
        assert_eq!(
            allowed(inner.acquire_all(strategy, now, &hits, false)),
            [false, true]
        );
        assert_eq!(
            allowed(inner.acquire_all(strategy, now, &hits, false)),
            [false, false]
        );
    }
}
