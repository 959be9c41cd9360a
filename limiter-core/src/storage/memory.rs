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
    clock: Arc<dyn Clock>,
    sweep_interval: Option<Duration>,
}

impl MemoryStorageBuilder {
    /// Reads time from `clock` instead of the system clock (for deterministic tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
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
            hasher: foldhash::quality::RandomState::default(),
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
            clock: Arc::new(SystemClock),
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
        let now = self.inner.clock.now().as_nanos();
        self.inner
            .acquire_all(strategy, now, hits, stop_at_first_breach)
    }

    pub(crate) fn acquire_one(&self, strategy: Strategy, hit: &Hit<'_>) -> Decision {
        let now = self.inner.clock.now().as_nanos();
        self.inner
            .acquire_all(strategy, now, std::slice::from_ref(hit), false)[0]
    }

    pub(crate) fn test(&self, strategy: Strategy, hit: Hit<'_>) -> bool {
        let inner = &self.inner;
        let now = inner.clock.now().as_nanos();
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
        let now = inner.clock.now().as_nanos();
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

struct Inner {
    clock: Arc<dyn Clock>,
    hasher: foldhash::quality::RandomState,
    counters: Table<Counter>,
    sliding: Table<Buckets>,
    windows: Table<Log>,
    /// GCRA: 8 bytes of state per key, 16 with its key.
    arrivals: Table<ArrivalTime>,
}

impl Inner {
    /// The hash of the storage key `LIMITER/<identifiers…>/<amount>/<multiples>/<unit>`, taken
    /// over its parts rather than over the joined string: nothing is built or copied per request.
    ///
    /// Hashing the parts with their lengths also keeps apart identifiers that would join into the
    /// same string (`["a/b", "c"]` and `["a", "b/c"]`), which Python's memory storage merges by
    /// accident. (Network backends store the string itself, so there they stay shared.)
    ///
    /// The bits that choose the shard ([`SHARD_BITS`]) are those of the identifiers' hash alone:
    /// the limits of one request (same client, same scope) share a shard, which
    /// [`Inner::acquire_all`] then locks once. Two keys of one client then collide with a
    /// probability of 2⁻⁵⁸ rather than 2⁻⁶⁴, which adds nothing noticeable to the figure above.
    fn key_hash(&self, limit: &RateLimit, identifiers: &[&str]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for identifier in identifiers {
            hasher.write(identifier.as_bytes());
            hasher.write_usize(identifier.len());
        }
        let identifiers_hash = hasher.finish();
        hasher.write_u64(limit.amount());
        hasher.write_u64(limit.multiples());
        hasher.write_u8(limit.granularity() as u8);
        (hasher.finish() & !SHARD_BITS) | (identifiers_hash & SHARD_BITS)
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
                |counter, hit| {
                    counter.hit(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
                },
            ),
            Strategy::MovingWindow => {
                self.decide_each(&self.windows, hits, stop_at_first_breach, |log, hit| {
                    log.acquire(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
                })
            }
            Strategy::SlidingWindowCounter => {
                self.decide_each(&self.sliding, hits, stop_at_first_breach, |buckets, hit| {
                    buckets.acquire(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
                })
            }
            Strategy::Gcra { burst } => self.decide_each(
                &self.arrivals,
                hits,
                stop_at_first_breach,
                |arrival, hit| {
                    let rate = Rate::new(hit.limit.amount(), expiry_nanos(hit.limit), burst);
                    arrival.acquire(hit.cost, now, rate)
                },
            ),
        }
    }

    /// Decides each of `hits` with `decide` on its entry in `table`, in order; stops after the
    /// first rejection if `stop_at_first_breach`.
    fn decide_each<V: Expiring>(
        &self,
        table: &Table<V>,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        decide: impl Fn(&mut V, &Hit<'_>) -> Decision,
    ) -> Decisions {
        let mut cursor = table.cursor();
        let mut decisions = Decisions::new();
        for hit in hits {
            let key = self.key_hash(hit.limit, hit.identifiers);
            let decision = decide(cursor.entry(key), hit);
            decisions.push(decision);
            if stop_at_first_breach && !decision.allowed {
                break;
            }
        }
        decisions
    }

    fn sweep(&self) -> usize {
        let now = self.clock.now().as_nanos();
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
