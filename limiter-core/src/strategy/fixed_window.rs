//! Fixed window arithmetic: one counter per key, anchored at the window's first hit.
//!
//! Times are nanoseconds since the Unix epoch, `expiry` the window's length in nanoseconds.

use super::{Decision, WindowStats};
use crate::clock::Timestamp;

/// A fixed window's state: how much was counted, and when the window ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counter {
    count: u64,
    expires_at: u64,
}

impl Counter {
    /// When the window ends (nothing counted stays relevant after it).
    #[inline]
    pub(crate) fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The count if the window is still open at `now`, as `limits`' memory `get`.
    #[inline]
    pub(crate) fn current(&self, now: u64) -> u64 {
        if self.expires_at > now {
            self.count
        } else {
            0
        }
    }

    /// Counts `cost` at `now` against `amount`, opening a new window of `expiry` if the last
    /// one ended. The hit is counted even when it is rejected, as `limits` does: the counter
    /// only resets when the window expires.
    #[inline]
    pub(crate) fn hit(&mut self, cost: u64, amount: u64, now: u64, expiry: u64) -> Decision {
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

    /// Whether `cost` more would fit at `now`, counting nothing.
    #[inline]
    pub(crate) fn admits(&self, cost: u64, amount: u64, now: u64) -> bool {
        self.current(now).saturating_add(cost) <= amount
    }

    /// What is left at `now`, and when the window ends (`now` if it is not open).
    #[inline]
    pub(crate) fn stats(&self, amount: u64, now: u64) -> WindowStats {
        let open = self.expires_at > now;
        WindowStats {
            remaining: amount.saturating_sub(self.current(now)),
            reset_at: Timestamp::from_nanos(if open { self.expires_at } else { now }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rejected_hits_until_the_window_ends() {
        let mut counter = Counter::default();
        let second = 1_000_000_000;
        assert!(counter.hit(1, 2, 10, second).allowed);
        assert!(counter.hit(1, 2, 20, second).allowed);
        let rejected = counter.hit(1, 2, 30, second);
        assert!(!rejected.allowed);
        assert_eq!(rejected.reset_at.as_nanos(), 10 + second);
        assert_eq!(counter.current(30), 3);
        assert!(!counter.admits(1, 2, 30));
        // The window ends: a new one opens at the next hit.
        assert_eq!(counter.current(10 + second), 0);
        assert!(counter.admits(2, 2, 10 + second));
        let reopened = counter.hit(1, 2, 10 + second, second);
        assert!(reopened.allowed);
        assert_eq!(reopened.reset_at.as_nanos(), 10 + 2 * second);
    }
}
