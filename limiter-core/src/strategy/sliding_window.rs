//! Sliding window counter arithmetic: the current and the previous window's counts, the previous
//! one weighted by how much of it still overlaps the sliding window.
//!
//! Two forms of the same weighting, as in `limits`:
//!
//! * [`Buckets`]: clock-aligned buckets (bucket `n` covers `[n × expiry, (n + 1) × expiry)`), in
//!   exact integer arithmetic, as `limits`' memory and memcached storages. Times are nanoseconds
//!   since the Unix epoch, `expiry` the window's length in nanoseconds.
//! * [`stats_from_ttls`]: windows anchored at their first hit, read back as counts and
//!   time-to-live values, as `limits`' Redis storage (whose scripts do the counting).

use super::{Decision, WindowStats};
use crate::clock::Timestamp;
use std::time::Duration;

/// A sliding window counter's state on clock-aligned buckets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buckets {
    /// The bucket `current` counts in: `time / expiry`.
    pub(crate) bucket: u64,
    /// Counted in `bucket`.
    pub(crate) current: u64,
    /// Counted in the bucket before it.
    pub(crate) previous: u64,
    /// When `current` stops mattering (the end of the bucket after it); 0 when not tracked.
    pub(crate) expires_at: u64,
}

impl Buckets {
    /// When these counts stop mattering.
    #[inline]
    pub(crate) fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// These counts as seen from the bucket that `now` falls in.
    #[inline]
    pub(crate) fn rolled(&self, now: u64, expiry: u64) -> Buckets {
        let bucket = now / expiry.max(1);
        let (current, previous) = if self.bucket == bucket {
            (self.current, self.previous)
        } else if self.bucket.checked_add(1) == Some(bucket) {
            (0, self.current)
        } else {
            (0, 0)
        };
        Buckets {
            bucket,
            current,
            previous,
            expires_at: self.expires_at,
        }
    }

    /// Time left in the current bucket: the share of the previous bucket still inside the
    /// sliding window, in nanoseconds out of `expiry`.
    #[inline]
    pub(crate) fn previous_ttl(now: u64, expiry: u64) -> u64 {
        expiry - now % expiry.max(1)
    }

    /// `floor(previous × previous_ttl / expiry + current)`, in exact integer arithmetic.
    #[inline]
    pub(crate) fn weighted_floor(&self, now: u64, expiry: u64) -> u64 {
        weighted_floor(
            self.previous,
            Self::previous_ttl(now, expiry),
            self.current,
            expiry,
        )
    }

    /// Whether `cost` more would fit at `now` (on counts already [rolled](Self::rolled) to it).
    #[inline]
    pub(crate) fn admits(&self, cost: u64, amount: u64, now: u64, expiry: u64) -> bool {
        cost <= amount && self.weighted_floor(now, expiry).saturating_add(cost) <= amount
    }

    /// Rolls to `now` and counts `cost` if it fits; a rejected hit counts nothing.
    #[inline]
    pub(crate) fn acquire(&mut self, cost: u64, amount: u64, now: u64, expiry: u64) -> Decision {
        *self = self.rolled(now, expiry);
        let allowed = self.admits(cost, amount, now, expiry);
        if allowed {
            self.current += cost;
            // The current bucket matters until the end of the next one.
            self.expires_at = (self.bucket + 2).saturating_mul(expiry);
        }
        self.stats(amount, now, expiry).decision(allowed)
    }

    /// The race guard of a storage that counts with a separate increment (memcached): whether
    /// the hit still fits once the current bucket holds `counted` (what the increment returned,
    /// this hit included), with the previous bucket weighted as of `later`, when the increment
    /// was made (never before `read_at`, the instant these counts were read at).
    #[cfg_attr(not(feature = "memcached"), allow(dead_code))]
    pub(crate) fn still_admits(
        &self,
        counted: u64,
        amount: u64,
        read_at: u64,
        later: u64,
        expiry: u64,
    ) -> bool {
        let later = later.max(read_at);
        let previous_ttl = Self::previous_ttl(read_at, expiry).saturating_sub(later - read_at);
        weighted_floor(self.previous, previous_ttl, counted, expiry) <= amount
    }

    /// `limits`' reset time: when the weighted count next drops by one, or the current bucket
    /// ends, whichever comes first.
    #[inline]
    pub(crate) fn stats(&self, amount: u64, now: u64, expiry: u64) -> WindowStats {
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

/// `floor(previous × previous_ttl / expiry) + current`, in exact integer arithmetic.
#[inline]
fn weighted_floor(previous: u64, previous_ttl: u64, current: u64, expiry: u64) -> u64 {
    let previous_share =
        u128::from(previous) * u128::from(previous_ttl) / u128::from(expiry.max(1));
    (previous_share as u64).saturating_add(current)
}

/// `limits`' `SlidingWindowCounterRateLimiter.get_window_stats` on windows anchored at their
/// first hit: remaining is the amount minus the floored weighted count; the reset is when the
/// weighted count next drops by one or the current window ends, whichever comes first (now if
/// both are empty). The TTLs are those of the previous and current counters.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn stats_from_ttls(
    amount: u64,
    expiry: Duration,
    now: Timestamp,
    (previous_count, previous_ttl): (u64, Duration),
    (current_count, current_ttl): (u64, Duration),
) -> WindowStats {
    let expiry_s = expiry.as_secs_f64();
    let weighted = if expiry_s > 0.0 {
        previous_count as f64 * previous_ttl.as_secs_f64() / expiry_s + current_count as f64
    } else {
        current_count as f64
    };
    let remaining = amount.saturating_sub(weighted.floor() as u64);
    if previous_count == 0 && current_count == 0 {
        return WindowStats {
            remaining,
            reset_at: now,
        };
    }
    // `ttl % period`, except that a TTL of a whole number of periods (e.g. the PTTL of a counter
    // read in the millisecond it was created) is a full period away, not now as in `limits`.
    let until_next = |ttl: f64, period: f64| match ttl % period {
        rest if rest > 0.0 => rest,
        _ if ttl > 0.0 => period,
        _ => 0.0,
    };
    let mut wait = f64::INFINITY;
    if previous_count > 0 {
        wait = wait.min(until_next(
            previous_ttl.as_secs_f64(),
            expiry_s / previous_count as f64,
        ));
    }
    if current_count > 0 {
        wait = wait.min(until_next(current_ttl.as_secs_f64(), expiry_s));
    }
    let wait = if wait.is_finite() && wait > 0.0 {
        Duration::from_secs_f64(wait)
    } else {
        Duration::ZERO
    };
    WindowStats {
        remaining,
        reset_at: now.saturating_add(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn buckets_weigh_the_previous_bucket_by_its_overlap() {
        let minute = 60 * SECOND;
        // 4 in the previous bucket, 15 s into the current one: 4 × 45/60 = 3 still count.
        let now = 10 * minute + 15 * SECOND;
        let buckets = Buckets {
            bucket: 9,
            current: 4,
            ..Buckets::default()
        }
        .rolled(now, minute);
        assert_eq!((buckets.current, buckets.previous), (0, 4));
        assert_eq!(buckets.weighted_floor(now, minute), 3);
        assert!(buckets.admits(1, 4, now, minute));
        assert!(!buckets.admits(2, 4, now, minute));
        let mut counted = buckets;
        assert!(counted.acquire(1, 4, now, minute).allowed);
        assert!(!counted.acquire(1, 4, now, minute).allowed);
        // Two buckets later nothing is left of either.
        assert_eq!(
            counted
                .rolled(now + 2 * minute, minute)
                .weighted_floor(now, minute),
            0
        );
        // The race guard: the increment came back with 2 in the current bucket.
        assert!(!buckets.still_admits(2, 4, now, now, minute));
        assert!(buckets.still_admits(1, 4, now, now, minute));
        // 15 s later only 4 × 30/60 = 2 of the previous bucket count.
        assert!(buckets.still_admits(2, 4, now, now + 15 * SECOND, minute));
    }

    #[test]
    fn ttl_stats_are_those_of_limits() {
        let now = Timestamp::from_nanos(0);
        let minute = Duration::from_secs(60);
        // limits' worked example: 4 in the previous bucket with 25 s of it left → 4 × 25/60 = 1.67
        // → floor 1, so 3 remain; the next drop in 25 mod 15 = 10 s.
        let stats = stats_from_ttls(
            4,
            minute,
            now,
            (4, Duration::from_secs(25)),
            (0, Duration::ZERO),
        );
        assert_eq!(stats.remaining, 3);
        assert_eq!(stats.reset_at, now.saturating_add(Duration::from_secs(10)));
        // Nothing counted: reset now.
        let empty = stats_from_ttls(4, minute, now, (0, Duration::ZERO), (0, Duration::ZERO));
        assert_eq!((empty.remaining, empty.reset_at), (4, now));
        // A current counter read in the millisecond it was created (PTTL = 2 × expiry) resets in
        // one expiry, not now.
        let fresh = stats_from_ttls(4, minute, now, (0, Duration::ZERO), (1, 2 * minute));
        assert_eq!(fresh.reset_at, now.saturating_add(minute));
    }
}
