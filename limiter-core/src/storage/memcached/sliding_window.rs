//! The sliding window counter on memcached: clock-aligned buckets `"{key}/{now / expiry}"`,
//! decided with the strategy's arithmetic and a race guard after the increment (see the [module
//! documentation](super#strategies)).

use super::keys::OwnedHit;
use super::operations::{parse_count, Inner};
use crate::storage::error::StorageError;
use crate::strategy::sliding_window::Buckets;
use crate::strategy::{Decision, WindowStats};

impl Inner {
    /// The clock-aligned buckets for `now`, read with one multi-get.
    fn sliding_read(&self, hit: &OwnedHit, now: u64) -> Result<Buckets, StorageError> {
        let bucket = now / hit.expiry_nanos();
        let current_key = hit.bucket_key(bucket);
        let previous_key = hit.bucket_key(bucket.wrapping_sub(1));
        let values = self.get_many(&[&previous_key, &current_key])?;
        let count = |key: &str| {
            values
                .get(key)
                .map_or(Ok(0), |value| parse_count(key, value))
        };
        Ok(Buckets {
            bucket,
            current: count(&current_key)?,
            previous: count(&previous_key)?,
            expires_at: 0,
        })
    }

    pub(super) fn sliding_acquire(&self, hit: &OwnedHit) -> Result<Decision, StorageError> {
        let expiry = hit.expiry_nanos();
        let now = self.now();
        let buckets = self.sliding_read(hit, now)?;
        if !buckets.admits(hit.cost, hit.amount, now, expiry) {
            return Ok(buckets.stats(hit.amount, now, expiry).decision(false));
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
        if !buckets.still_admits(count, hit.amount, now, self.now(), expiry) {
            self.server_for(&current_key)
                .call(|client| client.decrement(&current_key, hit.cost))?;
            let undone = Buckets {
                current: count.saturating_sub(hit.cost),
                ..buckets
            };
            return Ok(undone.stats(hit.amount, now, expiry).decision(false));
        }
        // Stats as of the read instant (same bucket as the keys used), with our count.
        let after = Buckets {
            current: count,
            ..buckets
        };
        Ok(after.stats(hit.amount, now, expiry).decision(true))
    }

    /// Whether `hit.cost` more would fit now.
    pub(super) fn sliding_test(&self, hit: &OwnedHit) -> Result<bool, StorageError> {
        let now = self.now();
        let buckets = self.sliding_read(hit, now)?;
        Ok(buckets.admits(hit.cost, hit.amount, now, hit.expiry_nanos()))
    }

    /// What is left now, and when the weighted count next drops.
    pub(super) fn sliding_window_stats(&self, hit: &OwnedHit) -> Result<WindowStats, StorageError> {
        let now = self.now();
        let buckets = self.sliding_read(hit, now)?;
        Ok(buckets.stats(hit.amount, now, hit.expiry_nanos()))
    }
}
