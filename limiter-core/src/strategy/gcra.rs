//! GCRA arithmetic (the generic cell rate algorithm): one theoretical arrival time per key.
//!
//! `amount per period` gives an **emission interval** `τ = period / amount` (`10 per second`:
//! 100 ms) and a **burst** `b` (by default the amount, as governor's `Quota`). The state is the
//! theoretical arrival time `tat`: when the key's bucket would be empty again had every admitted
//! hit been spaced exactly `τ` apart. A hit of `cost` at `now` is admitted iff
//!
//! ```text
//! max(tat, now) + cost·τ − now ≤ b·τ
//! ```
//!
//! and then `tat = max(tat, now) + cost·τ`; a rejected hit writes nothing. So `b` hits pass at
//! once on a fresh key, then one every `τ`: a token bucket of `b` tokens refilled one per `τ`,
//! kept as one number.
//!
//! What the decisions report (the GCRA meaning of the rate-limit headers):
//!
//! * `remaining`: how many more hits of cost 1 would pass **now**,
//!   `floor((b·τ − (max(tat, now) − now)) / τ)`.
//! * `reset_at`: for an admitted hit (and for window statistics), when the bucket is **full**
//!   again, `max(tat, now)`; for a rejected hit, when **this hit would pass**,
//!   `max(tat, now) + cost·τ − b·τ` (or, for a cost above the burst that never passes, when the
//!   bucket is full).
//!
//! Times are nanoseconds since the Unix epoch; `τ` is rounded up to a whole nanosecond, so the
//! rate never exceeds the limit. A limit of 0 admits nothing.

use super::{Decision, WindowStats};
use crate::clock::Timestamp;
use std::num::NonZeroU64;

/// A key's GCRA state: its theoretical arrival time, 8 bytes (0 for a key never hit).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArrivalTime {
    tat: u64,
}

impl ArrivalTime {
    /// When the bucket is full again: after it, the state means nothing and can be dropped.
    #[inline]
    pub(crate) fn expires_at(&self) -> u64 {
        self.tat
    }

    /// A state at `tat` (nanoseconds since the epoch), as a network backend reads it back.
    #[cfg_attr(not(feature = "memcached"), allow(dead_code))]
    pub(crate) fn at(tat: u64) -> Self {
        ArrivalTime { tat }
    }

    /// Admits `cost` at `now` if it fits the burst, and moves the arrival time on by `cost·τ`.
    #[inline]
    pub(crate) fn acquire(&mut self, cost: u64, now: u64, rate: Rate) -> Decision {
        let base = self.tat.max(now);
        let Some(interval) = rate.interval else {
            return rate.blocked(now);
        };
        let ahead = (base - now).saturating_add(cost.saturating_mul(interval));
        let allowed = ahead <= rate.tolerance;
        if allowed {
            self.tat = now.saturating_add(ahead);
            return rate.stats(self.tat, now).decision(true);
        }
        Decision {
            allowed: false,
            remaining: rate.stats(base, now).remaining,
            reset_at: Timestamp::from_nanos(rate.passes_at(base, cost, interval)),
        }
    }

    /// Whether `cost` more would pass at `now`, writing nothing.
    #[inline]
    pub(crate) fn admits(&self, cost: u64, now: u64, rate: Rate) -> bool {
        let Some(interval) = rate.interval else {
            return false;
        };
        let ahead = (self.tat.max(now) - now).saturating_add(cost.saturating_mul(interval));
        ahead <= rate.tolerance
    }

    /// How many hits would pass now, and when the bucket is full again.
    #[inline]
    pub(crate) fn stats(&self, now: u64, rate: Rate) -> WindowStats {
        match rate.interval {
            Some(_) => rate.stats(self.tat.max(now), now),
            None => WindowStats {
                remaining: 0,
                reset_at: rate.blocked(now).reset_at,
            },
        }
    }
}

/// A limit as GCRA sees it: its emission interval and its burst, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    /// `τ`, the period over the amount, rounded up; `None` for a limit of 0.
    interval: Option<u64>,
    /// `b·τ`: how far ahead of now the arrival time may run.
    tolerance: u64,
    /// The limit's period, for the reset of a limit of 0.
    period: u64,
}

impl Rate {
    /// `amount` per `period` nanoseconds, with a burst of `burst` hits (`None`: the amount).
    #[inline]
    pub(crate) fn new(amount: u64, period: u64, burst: Option<NonZeroU64>) -> Self {
        let interval = period.div_ceil(amount.max(1)).max(1);
        let burst = burst.map_or(amount, NonZeroU64::get);
        Rate {
            interval: (amount > 0).then_some(interval),
            tolerance: burst.saturating_mul(interval),
            period,
        }
    }

    /// The emission interval `τ` in nanoseconds (0 for a limit of 0).
    #[cfg(test)]
    pub(crate) fn interval(&self) -> u64 {
        self.interval.unwrap_or(0)
    }

    /// What is left, and when the bucket is full, with the arrival time at `base` (≥ `now`).
    #[inline]
    fn stats(&self, base: u64, now: u64) -> WindowStats {
        let interval = self.interval.unwrap_or(1);
        let used = base - now;
        WindowStats {
            remaining: self.tolerance.saturating_sub(used) / interval,
            reset_at: Timestamp::from_nanos(base),
        }
    }

    /// When a hit of `cost` rejected with the arrival time at `base` would pass: once the
    /// arrival time has come within `b·τ − cost·τ` of now. A cost above the burst never passes:
    /// then when the bucket is full.
    #[inline]
    fn passes_at(&self, base: u64, cost: u64, interval: u64) -> u64 {
        let needed = cost.saturating_mul(interval);
        if needed > self.tolerance {
            return base;
        }
        base.saturating_add(needed) - self.tolerance
    }

    /// The decision of a limit of 0: rejected, nothing left, a reset one period away.
    #[inline]
    fn blocked(&self, now: u64) -> Decision {
        Decision {
            allowed: false,
            remaining: 0,
            reset_at: Timestamp::from_nanos(now.saturating_add(self.period)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const SECOND: u64 = 1_000 * MS;
    /// Some instant, far from the epoch as real clocks are.
    const T0: u64 = 1_764_000_000 * SECOND;

    /// `10 per second`: an interval of 100 ms; a fresh key takes a burst of 10, then one per
    /// interval, with remaining and reset as documented.
    #[test]
    fn burst_of_the_amount_then_one_per_interval() {
        let rate = Rate::new(10, SECOND, None);
        assert_eq!(rate.interval(), 100 * MS);
        let mut state = ArrivalTime::default();
        assert_eq!(
            state.stats(T0, rate),
            WindowStats {
                remaining: 10,
                reset_at: Timestamp::from_nanos(T0)
            }
        );
        for left in (0..10).rev() {
            let decision = state.acquire(1, T0, rate);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, left);
            // Full again once every admitted hit has been "emitted".
            assert_eq!(decision.reset_at.as_nanos(), T0 + (10 - left) * 100 * MS);
        }
        let rejected = state.acquire(1, T0, rate);
        assert!(!rejected.allowed);
        assert_eq!(rejected.remaining, 0);
        // The next hit passes one interval later, and the rejection wrote nothing.
        assert_eq!(rejected.reset_at.as_nanos(), T0 + 100 * MS);
        assert_eq!(state.expires_at(), T0 + SECOND);
        assert!(!state.admits(1, T0 + 100 * MS - 1, rate));
        assert!(state.admits(1, T0 + 100 * MS, rate));
        let next = state.acquire(1, T0 + 100 * MS, rate);
        assert!(next.allowed);
        assert_eq!(next.remaining, 0);
        assert!(!state.acquire(1, T0 + 150 * MS, rate).allowed);
        // Empty at 100 ms; 350 ms later 3.5 intervals are emitted, so 3 whole hits pass.
        assert_eq!(state.stats(T0 + 450 * MS, rate).remaining, 3);
        // Idle for a full period: the bucket is full, the state has expired.
        assert!(state.expires_at() <= T0 + 2 * SECOND);
        assert_eq!(state.stats(T0 + 2 * SECOND, rate).remaining, 10);
    }

    /// A burst of 1 spaces every hit by the interval; a larger burst lets more through at once
    /// while the sustained rate stays the limit's.
    #[test]
    fn the_burst_is_configurable() {
        let smooth = Rate::new(10, SECOND, NonZeroU64::new(1));
        let mut state = ArrivalTime::default();
        assert!(state.acquire(1, T0, smooth).allowed);
        let rejected = state.acquire(1, T0 + 50 * MS, smooth);
        assert!(!rejected.allowed);
        assert_eq!(rejected.reset_at.as_nanos(), T0 + 100 * MS);
        assert!(state.acquire(1, T0 + 100 * MS, smooth).allowed);

        let bursty = Rate::new(2, SECOND, NonZeroU64::new(5));
        let mut state = ArrivalTime::default();
        for _ in 0..5 {
            assert!(state.acquire(1, T0, bursty).allowed);
        }
        assert!(!state.acquire(1, T0, bursty).allowed);
        // Then the limit's rate: one per 500 ms.
        assert!(!state.acquire(1, T0 + 499 * MS, bursty).allowed);
        assert!(state.acquire(1, T0 + 500 * MS, bursty).allowed);
    }

    /// A cost takes `cost` intervals at once; one above the burst never passes and writes
    /// nothing; a cost of 0 passes and writes nothing.
    #[test]
    fn costs_take_several_intervals() {
        let rate = Rate::new(3, 3 * SECOND, None);
        let mut state = ArrivalTime::default();
        let big = state.acquire(4, T0, rate);
        assert!(!big.allowed);
        assert_eq!((big.remaining, big.reset_at.as_nanos()), (3, T0));
        assert_eq!(state, ArrivalTime::default());
        let two = state.acquire(2, T0, rate);
        assert!(two.allowed);
        assert_eq!(two.remaining, 1);
        let rejected = state.acquire(2, T0, rate);
        assert!(!rejected.allowed);
        assert_eq!(rejected.remaining, 1);
        // Two intervals of 1 s ahead, one more needed: passes 1 s from now.
        assert_eq!(rejected.reset_at.as_nanos(), T0 + SECOND);
        assert!(state.acquire(0, T0, rate).allowed);
        assert_eq!(state.expires_at(), T0 + 2 * SECOND);
    }

    /// A period that does not divide by the amount rounds the interval up: never faster than
    /// the limit.
    #[test]
    fn the_interval_rounds_up() {
        let rate = Rate::new(3, SECOND, None);
        assert_eq!(rate.interval(), 333_333_334);
        let mut state = ArrivalTime::at(0);
        for _ in 0..3 {
            assert!(state.acquire(1, T0, rate).allowed);
        }
        assert!(!state.acquire(1, T0 + 333_333_333, rate).allowed);
        assert!(state.acquire(1, T0 + 333_333_334, rate).allowed);
    }

    /// A limit of 0 admits nothing, and huge amounts and costs saturate rather than overflow.
    #[test]
    fn zero_and_extremes() {
        let zero = Rate::new(0, SECOND, None);
        let mut state = ArrivalTime::default();
        let decision = state.acquire(1, T0, zero);
        assert!(!decision.allowed);
        assert_eq!(decision.remaining, 0);
        assert_eq!(decision.reset_at.as_nanos(), T0 + SECOND);
        assert!(!state.admits(0, T0, zero));
        assert_eq!(state.stats(T0, zero).remaining, 0);

        let huge = Rate::new(u64::MAX, SECOND, None);
        assert_eq!(huge.interval(), 1);
        assert!(state.acquire(1_000_000, T0, huge).allowed);
        let mut state = ArrivalTime::default();
        assert!(
            !state
                .acquire(u64::MAX, T0, Rate::new(10, SECOND, None))
                .allowed
        );
    }
}
