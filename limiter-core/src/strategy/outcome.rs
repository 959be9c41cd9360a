//! What a strategy's arithmetic answers: a decision on a hit, or a look at a window.

use crate::clock::Timestamp;

/// The result of one hit: whether it was admitted, and the window afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// `true` if the hit was within the limit.
    pub allowed: bool,
    /// What is left of the limit after this hit (0 when rejected).
    pub remaining: u64,
    /// When the window resets (fixed window) or next frees capacity (moving, sliding); an empty
    /// moving window starts now, so resets one window after now (as `limits`).
    pub reset_at: Timestamp,
}

/// The state of one limit's window for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStats {
    /// What is left of the limit.
    pub remaining: u64,
    /// When the window resets (fixed window) or next frees capacity (moving, sliding); an empty
    /// moving window starts now, so resets one window after now (as `limits`).
    pub reset_at: Timestamp,
}

impl WindowStats {
    /// The decision on a hit that left the window in this state.
    #[inline]
    pub(crate) fn decision(self, allowed: bool) -> Decision {
        Decision {
            allowed,
            remaining: self.remaining,
            reset_at: self.reset_at,
        }
    }
}
