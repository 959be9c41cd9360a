//! The fixed-window ends this process knows, so that a hit usually costs one round trip.

use parking_lot::Mutex;
use std::collections::HashMap;

/// The most fixed-window ends remembered; past it, expired ones are dropped (all of them if
/// none has expired).
const WINDOW_ENDS_CAPACITY: usize = 65_536;

/// Fixed-window ends this process wrote or read, by counter key, until they pass. Only the
/// *reported* reset time comes from here, never a decision: a window restarted by another
/// process (or by memcached expiring the counter up to a second early) is reported with the
/// remembered, earlier end until that end passes and the companion is read again.
#[derive(Default)]
pub(super) struct WindowEnds(Mutex<HashMap<String, u64>>);

impl WindowEnds {
    pub(super) fn recall(&self, key: &str, now: u64) -> Option<u64> {
        self.0.lock().get(key).copied().filter(|&end| end > now)
    }

    pub(super) fn remember(&self, key: &str, end: u64, now: u64) {
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

    pub(super) fn forget(&self, key: &str) {
        self.0.lock().remove(key);
    }
}
