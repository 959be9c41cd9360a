//! The in-process backend: sharded hash maps, a lock per shard, expired state swept away.
//!
//! * **No global lock**: keys are spread over [`SHARDS`] independently locked maps, so
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

use super::{Decision, Decisions, Hit, WindowStats};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use hashbrown::HashMap;
use parking_lot::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How many independently locked maps each table is split into.
pub const SHARDS: usize = 64;

/// Where in a key the bits that choose its shard sit: bits the map itself does not use (it takes
/// the low bits for the bucket index and the top seven as the control tag).
const SHARD_SHIFT: u32 = 40;

/// The bits of a key that choose its shard.
const SHARD_BITS: u64 = (SHARDS as u64 - 1) << SHARD_SHIFT;

fn shard_index(key: u64) -> usize {
    ((key & SHARD_BITS) >> SHARD_SHIFT) as usize
}

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
        inner.counters.len() + inner.sliding.len() + inner.windows.len()
    }

    /// Whether no key holds state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries the tables can hold without growing. It shrinks again after a sweep
    /// that leaves a table mostly empty.
    pub fn capacity(&self) -> usize {
        let inner = &self.inner;
        inner.counters.capacity() + inner.sliding.capacity() + inner.windows.capacity()
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
            Strategy::FixedWindow => {
                let count = inner.counters.read(key, |counter| counter.current(now));
                count.unwrap_or(0).saturating_add(hit.cost) <= amount
            }
            Strategy::MovingWindow => {
                let count = inner
                    .windows
                    .read(key, |window| window.count_since(now.saturating_sub(expiry)));
                hit.cost <= amount && count.unwrap_or(0) <= amount - hit.cost
            }
            Strategy::SlidingWindowCounter => {
                let buckets = inner
                    .sliding
                    .read(key, |buckets| buckets.rolled(now, expiry));
                let weighted = buckets.unwrap_or_default().weighted_floor(now, expiry);
                hit.cost <= amount && weighted.saturating_add(hit.cost) <= amount
            }
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
                .read(key, |window| window.stats(amount, now, expiry))
                .unwrap_or_else(|| Window::default().stats(amount, now, expiry)),
            Strategy::SlidingWindowCounter => inner
                .sliding
                .read(key, |buckets| buckets.rolled(now, expiry))
                .unwrap_or_default()
                .stats(amount, now, expiry),
        }
    }

    pub(crate) fn clear(&self, limit: &RateLimit, identifiers: &[&str]) {
        let inner = &self.inner;
        let key = inner.key_hash(limit, identifiers);
        inner.counters.remove(key);
        inner.sliding.remove(key);
        inner.windows.remove(key);
    }

    pub(crate) fn reset(&self) -> u64 {
        let inner = &self.inner;
        (inner.counters.clear() + inner.sliding.clear() + inner.windows.clear()) as u64
    }
}

struct Inner {
    clock: Arc<dyn Clock>,
    hasher: foldhash::quality::RandomState,
    counters: Table<Counter>,
    sliding: Table<SlidingBuckets>,
    windows: Table<Window>,
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
                self.decide_each(&self.windows, hits, stop_at_first_breach, |window, hit| {
                    window.acquire(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
                })
            }
            Strategy::SlidingWindowCounter => {
                self.decide_each(&self.sliding, hits, stop_at_first_breach, |buckets, hit| {
                    buckets.acquire(hit.cost, hit.limit.amount(), now, expiry_nanos(hit.limit))
                })
            }
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
        self.counters.sweep(now) + self.sliding.sweep(now) + self.windows.sweep(now)
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

/// A state that expires (also the entries of the over-limit cache, which shares [`Table`]).
pub(super) trait Expiring: Default {
    /// When this state stops mattering, in nanoseconds since the epoch.
    fn expires_at(&self) -> u64;
}

/// The keys are already hashes: the map uses them as they are.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are ever hashed; fold anything else rather than panic.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// One map per shard; each shard on its own cache lines so that locks do not false-share.
#[repr(align(128))]
struct Shard<V>(Mutex<Map<V>>);

/// A hash-keyed map split into [`SHARDS`] locked shards, whose expired entries [`Table::sweep`]
/// removes. Memory storage keeps its counters in it; the over-limit cache of network backends
/// (`super::over_limit`) its entries.
pub(super) struct Table<V> {
    shards: Box<[Shard<V>]>,
}

impl<V: Expiring> Table<V> {
    pub(super) fn new() -> Self {
        Table {
            shards: (0..SHARDS)
                .map(|_| Shard(Mutex::new(Map::default())))
                .collect(),
        }
    }

    /// The shard of a key.
    fn shard(&self, key: u64) -> &Mutex<Map<V>> {
        &self.shards[shard_index(key)].0
    }

    /// A cursor over entries that keeps its shard locked from one entry to the next.
    fn cursor(&self) -> Cursor<'_, V> {
        Cursor {
            table: self,
            held: None,
        }
    }

    /// Changes the entry of `key` (created empty if absent) when `admit` allows it, both under
    /// the shard's lock; a new entry is added only while its shard holds fewer than
    /// `cap_per_shard` entries, after sweeping the shard's expired ones (as of `now`) when it is
    /// full. Returns whether the entry was changed.
    pub(super) fn update_capped(
        &self,
        key: u64,
        cap_per_shard: usize,
        now: u64,
        admit: impl FnOnce() -> bool,
        change: impl FnOnce(&mut V),
    ) -> bool {
        let mut map = self.shard(key).lock();
        if !admit() {
            return false;
        }
        if let Some(entry) = map.get_mut(&key) {
            change(entry);
            return true;
        }
        if map.len() >= cap_per_shard {
            map.retain(|_, state| state.expires_at() > now);
            if map.len() >= cap_per_shard {
                return false;
            }
        }
        change(map.entry(key).or_default());
        true
    }

    pub(super) fn read<R>(&self, key: u64, look: impl FnOnce(&V) -> R) -> Option<R> {
        self.shard(key).lock().get(&key).map(look)
    }

    pub(super) fn remove(&self, key: u64) {
        self.shard(key).lock().remove(&key);
    }

    pub(super) fn clear(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut map = shard.0.lock();
                let removed = map.len();
                *map = Map::default();
                removed
            })
            .sum()
    }

    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.0.lock().len()).sum()
    }

    fn capacity(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.0.lock().capacity())
            .sum()
    }

    pub(super) fn sweep(&self, now: u64) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut map = shard.0.lock();
            let before = map.len();
            map.retain(|_, state| state.expires_at() > now);
            removed += before - map.len();
            // Give memory back after a flood of keys has expired.
            let len = map.len();
            if map.capacity() > 64 && len * 4 < map.capacity() {
                map.shrink_to(len * 2);
            }
        }
        removed
    }
}

/// Visits entries of a [`Table`] one after another, keeping a shard's lock while consecutive
/// entries share it (the limits of one request do, see `Inner::key_hash`): one lock per request
/// instead of one per limit. It never holds two locks, so cursors cannot deadlock each other.
struct Cursor<'t, V> {
    table: &'t Table<V>,
    held: Option<(usize, MutexGuard<'t, Map<V>>)>,
}

impl<V: Default> Cursor<'_, V> {
    /// The entry of `key`, created empty if absent.
    fn entry(&mut self, key: u64) -> &mut V {
        let shard = shard_index(key);
        if self
            .held
            .as_ref()
            .is_some_and(|(held_shard, _)| *held_shard != shard)
        {
            // Release the held lock before taking the next one.
            self.held = None;
        }
        let (_, map) = self
            .held
            .get_or_insert_with(|| (shard, self.table.shards[shard].0.lock()));
        map.entry(key).or_default()
    }
}

/// Fixed window: a counter anchored at its first hit.
#[derive(Default, Clone, Copy)]
struct Counter {
    count: u64,
    expires_at: u64,
}

impl Expiring for Counter {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl Counter {
    /// The count if the window is still open, as `limits`' memory `get`.
    fn current(&self, now: u64) -> u64 {
        if self.expires_at > now {
            self.count
        } else {
            0
        }
    }

    /// Counts the hit even when it is rejected, as `limits` does: the counter only resets when
    /// the window expires.
    fn hit(&mut self, cost: u64, amount: u64, now: u64, expiry: u64) -> Decision {
        if self.expires_at <= now {
            self.count = 0;
            self.expires_at = now.saturating_add(expiry);
        }
        self.count = self.count.saturating_add(cost);
        Decision {
            allowed: self.count <= amount,
            remaining: amount.saturating_sub(self.count),
            reset_at: Timestamp::from_nanos(self.expires_at),
        }
    }

    fn stats(&self, amount: u64, now: u64) -> WindowStats {
        let open = self.expires_at > now;
        WindowStats {
            remaining: amount.saturating_sub(self.current(now)),
            reset_at: Timestamp::from_nanos(if open { self.expires_at } else { now }),
        }
    }
}

/// Moving window: the timestamps of admitted hits, newest first, at most `amount` of them.
#[derive(Default)]
struct Window {
    timestamps: VecDeque<u64>,
    expires_at: u64,
}

impl Expiring for Window {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl Window {
    /// How many hits are at or after `cutoff`.
    fn count_since(&self, cutoff: u64) -> u64 {
        // Newest first, so the hits inside the window are a prefix.
        self.timestamps
            .partition_point(|&timestamp| timestamp >= cutoff) as u64
    }

    fn acquire(&mut self, cost: u64, amount: u64, now: u64, expiry: u64) -> Decision {
        let cutoff = now.saturating_sub(expiry);
        // Hits that left the window no longer matter: drop them (the oldest are at the back).
        while self
            .timestamps
            .back()
            .is_some_and(|&oldest| oldest < cutoff)
        {
            self.timestamps.pop_back();
        }
        // Admit only if the hit `amount - cost` places back is outside the window, as `limits`'
        // `acquire_entry`; a cost above the amount never fits and writes nothing.
        let allowed = cost <= amount && self.timestamps.len() as u64 <= amount - cost;
        if allowed {
            for _ in 0..cost {
                self.timestamps.push_front(now);
            }
            self.timestamps.truncate(amount as usize);
            self.expires_at = now.saturating_add(expiry);
        }
        let stats = self.stats(amount, now, expiry);
        Decision {
            allowed,
            remaining: stats.remaining,
            reset_at: stats.reset_at,
        }
    }

    fn stats(&self, amount: u64, now: u64, expiry: u64) -> WindowStats {
        let cutoff = now.saturating_sub(expiry);
        let count = self.count_since(cutoff);
        // The window frees capacity when its oldest hit leaves it.
        let reset_at = match count {
            0 => now,
            _ => self.timestamps[count as usize - 1].saturating_add(expiry),
        };
        WindowStats {
            remaining: amount.saturating_sub(count),
            reset_at: Timestamp::from_nanos(reset_at),
        }
    }
}

/// Sliding window counter on clock-aligned buckets (as `limits`' memory and memcached storages):
/// bucket `n` covers `[n × expiry, (n + 1) × expiry)`.
///
/// Shared with the memcached backend, which uses the same clock-aligned buckets.
#[derive(Default, Clone, Copy)]
pub(super) struct SlidingBuckets {
    pub(super) bucket: u64,
    pub(super) current: u64,
    pub(super) previous: u64,
    pub(super) expires_at: u64,
}

impl Expiring for SlidingBuckets {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl SlidingBuckets {
    /// These counts as seen from the bucket that `now` falls in.
    fn rolled(&self, now: u64, expiry: u64) -> SlidingBuckets {
        let bucket = now / expiry.max(1);
        let (current, previous) = if self.bucket == bucket {
            (self.current, self.previous)
        } else if self.bucket.checked_add(1) == Some(bucket) {
            (0, self.current)
        } else {
            (0, 0)
        };
        SlidingBuckets {
            bucket,
            current,
            previous,
            expires_at: self.expires_at,
        }
    }

    /// Time left in the current bucket: the share of the previous bucket still inside the
    /// sliding window, in nanoseconds out of `expiry`.
    pub(super) fn previous_ttl(now: u64, expiry: u64) -> u64 {
        expiry - now % expiry.max(1)
    }

    /// `floor(previous × previous_ttl / expiry + current)`, in exact integer arithmetic.
    pub(super) fn weighted_floor(&self, now: u64, expiry: u64) -> u64 {
        let previous_share = u128::from(self.previous)
            * u128::from(Self::previous_ttl(now, expiry))
            / u128::from(expiry.max(1));
        (previous_share as u64).saturating_add(self.current)
    }

    fn acquire(&mut self, cost: u64, amount: u64, now: u64, expiry: u64) -> Decision {
        *self = self.rolled(now, expiry);
        let allowed =
            cost <= amount && self.weighted_floor(now, expiry).saturating_add(cost) <= amount;
        if allowed {
            self.current += cost;
            // The current bucket matters until the end of the next one.
            self.expires_at = (self.bucket + 2).saturating_mul(expiry);
        }
        let stats = self.stats(amount, now, expiry);
        Decision {
            allowed,
            remaining: stats.remaining,
            reset_at: stats.reset_at,
        }
    }

    /// `limits`' reset time: when the weighted count next drops by one, or the current bucket
    /// ends, whichever comes first.
    pub(super) fn stats(&self, amount: u64, now: u64, expiry: u64) -> WindowStats {
        let remaining = amount.saturating_sub(self.weighted_floor(now, expiry));
        let expiry_f = expiry as f64;
        let previous_ttl = Self::previous_ttl(now, expiry) as f64;
        let current_ttl = previous_ttl + expiry_f;
        let mut wait: Option<f64> = None;
        if self.previous > 0 {
            wait = Some(previous_ttl % (expiry_f / self.previous as f64));
        }
        if self.current > 0 {
            let until_bucket_end = current_ttl % expiry_f;
            wait = Some(wait.map_or(until_bucket_end, |w| w.min(until_bucket_end)));
        }
        WindowStats {
            remaining,
            reset_at: Timestamp::from_nanos(now.saturating_add(wait.unwrap_or(0.0) as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
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
