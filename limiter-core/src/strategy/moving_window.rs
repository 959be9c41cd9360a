//! Moving window arithmetic: a log of the admitted hits' times, at most `amount` of them.
//!
//! Times are nanoseconds since the Unix epoch, `expiry` the window's length in nanoseconds.

use super::{Decision, WindowStats};
use crate::clock::Timestamp;
use std::collections::VecDeque;

/// A moving window's state: the timestamps of admitted hits, newest first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Log {
    timestamps: VecDeque<u64>,
    expires_at: u64,
}

impl Log {
    /// When the newest hit leaves the window (nothing logged stays relevant after it).
    #[inline]
    pub(crate) fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// How many hits are at or after `cutoff`.
    #[inline]
    pub(crate) fn count_since(&self, cutoff: u64) -> u64 {
        // Newest first, so the hits inside the window are a prefix.
        self.timestamps
            .partition_point(|&timestamp| timestamp >= cutoff) as u64
    }

    /// Admits `cost` at `now` if the window of `expiry` before it holds at most
    /// `amount - cost` hits, and logs it; a rejected hit writes nothing.
    #[inline]
    pub(crate) fn acquire(&mut self, cost: u64, amount: u64, now: u64, expiry: u64) -> Decision {
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
        self.stats(amount, now, expiry).decision(allowed)
    }

    /// Whether `cost` more would fit at `now`, logging nothing.
    #[inline]
    pub(crate) fn admits(&self, cost: u64, amount: u64, now: u64, expiry: u64) -> bool {
        let count = self.count_since(now.saturating_sub(expiry));
        cost <= amount && count <= amount - cost
    }

    /// What is left at `now`, and when the oldest hit in the window leaves it; an empty window
    /// reports a reset one window after `now`, as `limits` (its window starts now).
    #[inline]
    pub(crate) fn stats(&self, amount: u64, now: u64, expiry: u64) -> WindowStats {
        let cutoff = now.saturating_sub(expiry);
        let count = self.count_since(cutoff);
        // The window frees capacity when its oldest hit leaves it.
        let reset_at = match count {
            0 => now.saturating_add(expiry),
            _ => self.timestamps[count as usize - 1].saturating_add(expiry),
        };
        WindowStats {
            remaining: amount.saturating_sub(count),
            reset_at: Timestamp::from_nanos(reset_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_at_most_amount_in_any_window() {
        let mut log = Log::default();
        let expiry = 100;
        assert!(log.acquire(1, 2, 10, expiry).allowed);
        assert!(log.acquire(1, 2, 50, expiry).allowed);
        let rejected = log.acquire(1, 2, 60, expiry);
        assert!(!rejected.allowed);
        // The oldest hit (10) leaves the window at 110.
        assert_eq!(rejected.reset_at.as_nanos(), 110);
        assert!(!log.admits(1, 2, 109, expiry));
        assert!(log.admits(1, 2, 111, expiry));
        assert!(
            !log.admits(3, 2, 1_000, expiry),
            "a cost above the amount never fits"
        );
        assert!(log.acquire(1, 2, 111, expiry).allowed);
        assert_eq!(log.stats(2, 111, expiry).remaining, 0);
    }

    #[test]
    fn an_empty_window_resets_one_window_after_now() {
        let expiry = 100;
        let empty = Log::default().stats(2, 1_000, expiry);
        assert_eq!(empty.remaining, 2);
        assert_eq!(empty.reset_at.as_nanos(), 1_100);
        // Hits that have left the window leave it empty too.
        let mut log = Log::default();
        assert!(log.acquire(1, 2, 10, expiry).allowed);
        assert_eq!(log.stats(2, 500, expiry).reset_at.as_nanos(), 600);
        // A cost above the amount writes nothing: the window stays empty.
        let rejected = Log::default().acquire(3, 2, 1_000, expiry);
        assert!(!rejected.allowed);
        assert_eq!(rejected.reset_at.as_nanos(), 1_100);
    }
}
