//! Reading the documents of `limits`' collections: numbers, expiry times, and the moving and
//! sliding window states they hold, with `limits`' window statistics.

use crate::clock::Timestamp;
use crate::strategy::WindowStats;
use ::mongodb::bson::{Bson, Document};
use std::time::Duration;

pub(super) fn timestamp_from_millis(millis: i64) -> Timestamp {
    Timestamp::from_nanos(u64::try_from(millis).unwrap_or(0).saturating_mul(1_000_000))
}

pub(super) fn timestamp_from_seconds(seconds: f64) -> Timestamp {
    Timestamp::from_secs_f64(seconds.max(0.0))
}

/// A numeric field of a returned document (`limits` writes Python ints, which arrive as 32- or
/// 64-bit integers, and pipeline arithmetic can give doubles); 0 when missing.
pub(super) fn number(document: &Document, field: &str) -> f64 {
    match document.get(field) {
        Some(Bson::Int32(value)) => f64::from(*value),
        Some(Bson::Int64(value)) => *value as f64,
        Some(Bson::Double(value)) => *value,
        _ => 0.0,
    }
}

pub(super) fn count(document: &Document, field: &str) -> u64 {
    number(document, field).max(0.0) as u64
}

/// `expireAt` in milliseconds since the epoch, if the document has one.
pub(super) fn expire_at_millis(document: &Document) -> Option<i64> {
    match document.get("expireAt") {
        Some(Bson::DateTime(date)) => Some(date.timestamp_millis()),
        _ => None,
    }
}

/// The moving window's `(oldest entry, count)` at or after `cutoff`, from a document's entries
/// (newest first).
pub(super) fn moving_window_from_entries(document: &Document, cutoff: f64) -> (f64, u64) {
    let mut count = 0;
    let mut oldest = f64::INFINITY;
    if let Ok(entries) = document.get_array("entries") {
        for entry in entries {
            let value = match entry {
                Bson::Double(value) => *value,
                Bson::Int32(value) => f64::from(*value),
                Bson::Int64(value) => *value as f64,
                _ => continue,
            };
            if value >= cutoff {
                count += 1;
                oldest = oldest.min(value);
            }
        }
    }
    (oldest, count)
}

/// Window statistics of the moving window from `(oldest, count)`, as the memory storage: a
/// window with nothing in it starts now (`limits`' `get_moving_window`), so it resets one window
/// after now.
pub(super) fn moving_window_stats(
    amount: u64,
    expiry_seconds: u64,
    now: Timestamp,
    oldest: f64,
    count: u64,
) -> WindowStats {
    let reset_at = if count == 0 {
        now.saturating_add(Duration::from_secs(expiry_seconds))
    } else {
        timestamp_from_seconds(oldest + expiry_seconds as f64)
    };
    WindowStats {
        remaining: amount.saturating_sub(count),
        reset_at,
    }
}

/// The sliding window counter's state, as `limits`' `get_sliding_window` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct SlidingState {
    pub(super) previous: u64,
    pub(super) previous_ttl_ms: f64,
    pub(super) current: u64,
    pub(super) current_ttl_ms: f64,
}

impl SlidingState {
    pub(super) fn from_document(
        document: Option<&Document>,
        expiry_ms: i64,
        now: i64,
    ) -> SlidingState {
        let Some(document) = document else {
            return SlidingState::default();
        };
        let Some(expire_at) = expire_at_millis(document) else {
            return SlidingState::default();
        };
        let current_ttl_ms = (expire_at - now).max(0) as f64;
        SlidingState {
            previous: count(document, "previousCount"),
            previous_ttl_ms: (expire_at - expiry_ms - now).max(0) as f64,
            current: count(document, "currentCount"),
            current_ttl_ms,
        }
    }

    /// `floor(previous × previous_ttl / expiry + current)`.
    pub(super) fn weighted_floor(&self, expiry_ms: i64) -> u64 {
        let expiry = expiry_ms.max(1) as f64;
        let weighted = self.previous as f64 * self.previous_ttl_ms / expiry + self.current as f64;
        weighted.floor() as u64
    }

    /// `limits`' window statistics: remaining `amount - floor(weighted)`, reset when the
    /// weighted count next drops by one or the current bucket ends (now when both are empty).
    pub(super) fn stats(&self, amount: u64, expiry_ms: i64, now: Timestamp) -> WindowStats {
        let expiry = expiry_ms.max(1) as f64;
        let mut wait: Option<f64> = None;
        if self.previous > 0 {
            wait = Some(self.previous_ttl_ms % (expiry / self.previous as f64));
        }
        if self.current > 0 {
            let until_bucket_end = self.current_ttl_ms % expiry;
            wait = Some(wait.map_or(until_bucket_end, |w| w.min(until_bucket_end)));
        }
        WindowStats {
            remaining: amount.saturating_sub(self.weighted_floor(expiry_ms)),
            reset_at: now.saturating_add(Duration::from_secs_f64(
                wait.unwrap_or(0.0).max(0.0) / 1000.0,
            )),
        }
    }
}
