//! GCRA on memcached: the arrival time under `"{key}/gcra"`, read with `gets` and written back
//! with `cas`, so that a write made since the read makes ours fail and the hit is decided again
//! on the new value. Decided with the strategy's arithmetic (`crate::strategy::gcra`).
//!
//! A key that does not exist is first created with `add` as the arrival time 0 (never hit):
//! `add` never overwrites, so racing creators agree, and every write after it is a `cas`.

use super::error::{backend_error, CasContention};
use super::keys::OwnedHit;
use super::operations::{parse_count, Inner};
use crate::storage::error::StorageError;
use crate::strategy::gcra::{ArrivalTime, Rate};
use crate::strategy::{Decision, WindowStats};
use std::num::NonZeroU64;

/// How many times a hit is decided again after losing a `cas` race before giving up. Each
/// lost race means another hit was counted, so a hit only loses this often when this many
/// others are admitted on its key at the same moment.
const CAS_ATTEMPTS: usize = 64;

impl OwnedHit {
    fn gcra_key(&self) -> String {
        format!("{}/gcra", self.key)
    }

    fn rate(&self, burst: Option<NonZeroU64>) -> Rate {
        Rate::new(self.amount, self.expiry_nanos(), burst)
    }
}

impl Inner {
    /// The arrival time at `key` and its `cas` id; `None` if the key does not exist.
    fn gcra_read(&self, key: &str) -> Result<Option<(ArrivalTime, u64)>, StorageError> {
        let value: Option<(String, u32, Option<u64>)> =
            self.server_for(key).call(|client| client.get(key))?;
        match value {
            Some((text, _flags, Some(cas))) => {
                Ok(Some((ArrivalTime::at(parse_count(key, &text)?), cas)))
            }
            Some((_, _, None)) | None => Ok(None),
        }
    }

    /// The arrival time at `key`, 0 (never hit) when missing.
    fn gcra_current(&self, key: &str) -> Result<ArrivalTime, StorageError> {
        let value: Option<String> = self.server_for(key).call(|client| client.get(key))?;
        value.map_or(Ok(ArrivalTime::default()), |text| {
            Ok(ArrivalTime::at(parse_count(key, &text)?))
        })
    }

    pub(super) fn gcra_acquire(
        &self,
        hit: &OwnedHit,
        burst: Option<NonZeroU64>,
    ) -> Result<Decision, StorageError> {
        let key = hit.gcra_key();
        let server = self.server_for(&key);
        let rate = hit.rate(burst);
        for _ in 0..CAS_ATTEMPTS {
            let Some((stored, cas)) = self.gcra_read(&key)? else {
                // Creates it as "never hit" unless another hit just did; then decides on it.
                server.call(|client| client.add(&key, "0", 0))?;
                continue;
            };
            let now = self.now();
            let mut state = stored;
            let decision = state.acquire(hit.cost, now, rate);
            if !decision.allowed || state == stored {
                return Ok(decision);
            }
            let tat = state.expires_at();
            // Kept until the bucket is full again, rounded up to a whole second, plus one.
            let ttl = (tat - now).div_ceil(1_000_000_000).saturating_add(1);
            let ttl = u32::try_from(ttl).unwrap_or(u32::MAX);
            let mut digits = itoa::Buffer::new();
            let value = digits.format(tat);
            if server.call(|client| client.cas(&key, value, ttl, cas))? {
                return Ok(decision);
            }
        }
        Err(backend_error(CasContention { key }))
    }

    /// Whether `hit.cost` more would pass now.
    pub(super) fn gcra_test(
        &self,
        hit: &OwnedHit,
        burst: Option<NonZeroU64>,
    ) -> Result<bool, StorageError> {
        let state = self.gcra_current(&hit.gcra_key())?;
        Ok(state.admits(hit.cost, self.now(), hit.rate(burst)))
    }

    /// How many would pass now, and when the bucket is full again.
    pub(super) fn gcra_window_stats(
        &self,
        hit: &OwnedHit,
        burst: Option<NonZeroU64>,
    ) -> Result<WindowStats, StorageError> {
        let state = self.gcra_current(&hit.gcra_key())?;
        Ok(state.stats(self.now(), hit.rate(burst)))
    }

    /// Forgets the arrival time (part of `clear`).
    pub(super) fn gcra_clear(&self, hit: &OwnedHit) -> Result<(), StorageError> {
        let key = hit.gcra_key();
        self.server_for(&key).call(|client| client.delete(&key))?;
        Ok(())
    }
}
