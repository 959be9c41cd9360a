//! The over-limit cache of network backends: keys already over their limit, answered in process.
//!
//! A rejection is certain until the decision's `reset_at`, whatever other processes do: they can
//! only add hits, never take them away (except by an explicit `clear` or `reset`). So after a
//! network backend rejects a hit and reports nothing left of its limit (`remaining == 0`), the
//! hit's storage key is remembered with that `reset_at`; until then a hit on the same key (same
//! limit and identifiers, any cost ≥ 1, same strategy) is rejected without a round trip. Under
//! attack the 429 path then does not touch the server at all.
//!
//! * **Exact**: only a rejection with nothing left is cached, and only until its reset, so every
//!   answer it gives is the one the server would give. A hit of cost 0 always goes to the server.
//! * **`clear` and `reset`**: through this process they drop the matching entries (and an answer
//!   still in flight when they run is not cached). A `clear` or `reset` from *another* process
//!   (e.g. the CLI) is seen here only once the cached `reset_at` passes.
//! * **Fixed window and Python**: `limits` counts rejected hits on the server (the counter climbs
//!   past the amount); while a key is cached its rejected hits are not sent, so the server's
//!   counter stays lower. The window's expiry is unchanged and a counter at or past the amount
//!   rejects alike, so no decision changes, in this process or another one.
//! * **Opt-in** (`RedisStorageBuilder::over_limit_cache(true)`), because of the point above: by
//!   default an operator's `clear` must take effect at once, as in Flask-Limiter.
//! * **Bounded**: entries live in the memory storage's sharded table, keyed by a 64-bit hash of
//!   the storage key (seeded at random per cache); at most [`DEFAULT_OVER_LIMIT_CAPACITY`]
//!   entries by default (about 32 bytes each), expired ones swept from a shard when it is full.

use super::hit::{Decisions, Hit};
use super::table::{Expiring, Table, SHARDS};
use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::strategy::Decision;
use crate::strategy::Strategy;
use std::cell::RefCell;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// How many keys the over-limit cache of a network backend holds at most, unless configured
/// otherwise.
pub const DEFAULT_OVER_LIMIT_CAPACITY: usize = 65_536;

/// The `reset_at` (nanoseconds since the epoch) of one storage key per strategy; 0 when not over.
#[derive(Default, Clone, Copy)]
pub(super) struct OverUntil([u64; Strategy::ALL.len()]);

impl Expiring for OverUntil {
    fn expires_at(&self) -> u64 {
        self.0.iter().copied().max().unwrap_or(0)
    }
}

/// The cache itself; each network backend that has one owns it (shared by its clones).
pub(crate) struct OverLimitCache {
    table: Table<OverUntil>,
    hasher: foldhash::quality::RandomState,
    cap_per_shard: usize,
    /// Bumped by every `clear`/`reset`: an answer that left for the server before one of them is
    /// not cached when it comes back.
    generation: AtomicU64,
}

impl fmt::Debug for OverLimitCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OverLimitCache")
            .field("entries", &self.table.len())
            .field("capacity", &(self.cap_per_shard * SHARDS))
            .finish()
    }
}

thread_local! {
    /// Where storage keys are written to be hashed, so that looking one up does not allocate.
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

fn now_nanos() -> u64 {
    Timestamp::from(SystemTime::now()).as_nanos()
}

impl OverLimitCache {
    /// A cache of at most about `capacity` keys (rounded up to a multiple of the shard count).
    pub(crate) fn new(capacity: usize) -> Self {
        OverLimitCache {
            table: Table::new(),
            hasher: foldhash::quality::RandomState::default(),
            cap_per_shard: capacity.div_ceil(SHARDS).max(1),
            generation: AtomicU64::new(0),
        }
    }

    /// How many keys are cached (expired ones included until swept).
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The hash of the storage key `LIMITER/<identifiers…>/<amount>/<multiples>/<unit>` itself
    /// (network backends share a counter between identifiers that join into the same string, so
    /// the cache must too).
    fn key_hash(&self, limit: &RateLimit, identifiers: &[&str]) -> u64 {
        KEY.with(|key| {
            let mut key = key.borrow_mut();
            key.clear();
            limit.write_key(identifiers, &mut key);
            self.hasher.hash_one(key.as_bytes())
        })
    }

    /// The rejection of `hit` if it is cached and still certain at `now`.
    fn lookup(&self, strategy: Strategy, hit: &Hit<'_>, now: u64) -> Option<Decision> {
        if hit.cost == 0 {
            return None;
        }
        let key = self.key_hash(hit.limit, hit.identifiers);
        let reset_at = self.table.read(key, |over| over.0[strategy.index()])?;
        (reset_at > now).then(|| Decision {
            allowed: false,
            remaining: 0,
            reset_at: Timestamp::from_nanos(reset_at),
        })
    }

    /// The decisions of a whole batch if they can be given without the server: with
    /// `stop_at_first_breach`, when the first hit is cached; otherwise when every hit is.
    pub(crate) fn answer(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> Option<Decisions> {
        let first = hits.first()?;
        let now = now_nanos();
        let mut decisions = Decisions::new();
        decisions.push(self.lookup(strategy, first, now)?);
        if !stop_at_first_breach {
            for hit in &hits[1..] {
                decisions.push(self.lookup(strategy, hit, now)?);
            }
        }
        Some(decisions)
    }

    /// Whether a `test` of `hit` is known to fail without asking the server.
    pub(crate) fn rejects(&self, strategy: Strategy, hit: &Hit<'_>) -> bool {
        self.lookup(strategy, hit, now_nanos()).is_some()
    }

    /// The generation to pass to [`record`](Self::record) for a call about to be sent.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers the hits of a server answer that were rejected with nothing left, unless a
    /// `clear` or `reset` ran since `generation` was read.
    pub(crate) fn record(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        decisions: &[Decision],
        generation: u64,
    ) {
        let mut now = None;
        for (hit, decision) in hits.iter().zip(decisions) {
            if decision.allowed || decision.remaining != 0 {
                continue;
            }
            let now = *now.get_or_insert_with(now_nanos);
            let reset_at = decision.reset_at.as_nanos();
            if reset_at <= now {
                continue;
            }
            let key = self.key_hash(hit.limit, hit.identifiers);
            self.table.update_capped(
                key,
                self.cap_per_shard,
                now,
                || self.generation.load(Ordering::SeqCst) == generation,
                |over| over.0[strategy.index()] = reset_at,
            );
        }
    }

    /// Forgets `limit` for `identifiers` under every strategy (after or while it is cleared on
    /// the server).
    pub(crate) fn clear(&self, limit: &RateLimit, identifiers: &[&str]) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.table.remove(self.key_hash(limit, identifiers));
    }

    /// Forgets every key.
    pub(crate) fn reset(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.table.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notation::Granularity;

    fn rejected(reset_at: u64) -> Decision {
        Decision {
            allowed: false,
            remaining: 0,
            reset_at: Timestamp::from_nanos(reset_at),
        }
    }

    #[test]
    fn caches_rejections_with_nothing_left_until_reset() {
        let cache = OverLimitCache::new(128);
        let limit = RateLimit::new(2, 1, Granularity::Minute);
        let hit = Hit {
            limit: &limit,
            identifiers: &["a", "b"],
            cost: 1,
        };
        let future = now_nanos() + 60_000_000_000;
        let strategy = Strategy::FixedWindow;
        // Rejected but with something left (cost above what is left): not cached.
        let partial = Decision {
            remaining: 1,
            ..rejected(future)
        };
        cache.record(strategy, &[hit], &[partial], cache.generation());
        assert!(cache.answer(strategy, &[hit], true).is_none());
        cache.record(strategy, &[hit], &[rejected(future)], cache.generation());
        assert_eq!(
            cache.answer(strategy, &[hit], true).unwrap().as_slice(),
            &[rejected(future)]
        );
        // Same server key from other identifiers; any cost >= 1; not another strategy.
        let joined = Hit {
            identifiers: &["a/b"],
            cost: 5,
            ..hit
        };
        assert!(cache.rejects(strategy, &joined));
        assert!(!cache.rejects(Strategy::MovingWindow, &hit));
        assert!(!cache.rejects(strategy, &Hit { cost: 0, ..hit }));
        // A batch: answered when its first hit is cached and it stops there, or when all are.
        let other_limit = RateLimit::new(5, 1, Granularity::Hour);
        let other = Hit {
            limit: &other_limit,
            ..hit
        };
        assert_eq!(
            cache.answer(strategy, &[hit, other], true).unwrap().len(),
            1
        );
        assert!(cache.answer(strategy, &[hit, other], false).is_none());
        assert!(cache.answer(strategy, &[other, hit], true).is_none());
        // Cleared: gone; a reply sent before the clear is not cached.
        let before = cache.generation();
        cache.clear(&limit, &["a", "b"]);
        assert!(!cache.rejects(strategy, &hit));
        cache.record(strategy, &[hit], &[rejected(future)], before);
        assert!(!cache.rejects(strategy, &hit));
        // Past its reset: not answered, and not cached at all.
        cache.record(strategy, &[hit], &[rejected(1)], cache.generation());
        assert!(!cache.rejects(strategy, &hit));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded() {
        let cache = OverLimitCache::new(SHARDS);
        let limit = RateLimit::new(1, 1, Granularity::Minute);
        let future = now_nanos() + 60_000_000_000;
        for i in 0..10_000 {
            let id = i.to_string();
            let hit = Hit {
                limit: &limit,
                identifiers: &[&id],
                cost: 1,
            };
            cache.record(
                Strategy::FixedWindow,
                &[hit],
                &[rejected(future)],
                cache.generation(),
            );
        }
        assert!(cache.len() <= SHARDS, "{}", cache.len());
        cache.reset();
        assert_eq!(cache.len(), 0);
    }
}
