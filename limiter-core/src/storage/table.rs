//! A hash-keyed map split into independently locked shards, whose expired entries are swept.
//!
//! The memory storage keeps its strategies' states in it; the over-limit cache of network
//! backends (`super::over_limit`) its entries. Keys are already 64-bit hashes (seeded at random
//! by the owner), used as they are.

use hashbrown::HashMap;
use parking_lot::{Mutex, MutexGuard};
use std::hash::{BuildHasherDefault, Hasher};

/// How many independently locked maps each table is split into.
pub(crate) const SHARDS: usize = 64;

/// Where in a key the bits that choose its shard sit: bits the map itself does not use (it takes
/// the low bits for the bucket index and the top seven as the control tag).
const SHARD_SHIFT: u32 = 40;

/// The bits of a key that choose its shard.
pub(super) const SHARD_BITS: u64 = (SHARDS as u64 - 1) << SHARD_SHIFT;

#[inline]
pub(super) fn shard_index(key: u64) -> usize {
    ((key & SHARD_BITS) >> SHARD_SHIFT) as usize
}

/// A state that expires (also the entries of the over-limit cache, which shares [`Table`]).
pub(crate) trait Expiring: Default {
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
/// removes.
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
    #[inline]
    fn shard(&self, key: u64) -> &Mutex<Map<V>> {
        &self.shards[shard_index(key)].0
    }

    /// A cursor over entries that keeps its shard locked from one entry to the next.
    #[inline]
    pub(super) fn cursor(&self) -> Cursor<'_, V> {
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

    /// Runs `change` on the entry of `key` (created empty if absent), under the shard's lock.
    #[inline]
    pub(super) fn with_entry<R>(&self, key: u64, change: impl FnOnce(&mut V) -> R) -> R {
        change(self.shard(key).lock().entry(key).or_default())
    }

    #[inline]
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

    pub(super) fn capacity(&self) -> usize {
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
/// entries share it (the limits of one request do, see the memory storage's `key_hash`): one lock per request
/// instead of one per limit. It never holds two locks, so cursors cannot deadlock each other.
pub(super) struct Cursor<'t, V> {
    table: &'t Table<V>,
    held: Option<(usize, MutexGuard<'t, Map<V>>)>,
}

impl<V: Default> Cursor<'_, V> {
    /// The entry of `key`, created empty if absent.
    #[inline]
    pub(super) fn entry(&mut self, key: u64) -> &mut V {
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
