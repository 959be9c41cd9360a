//! The three rate-limiting strategies of `limits`, by name.

use std::fmt;
use std::str::FromStr;

/// How hits are counted against a window.
///
/// The semantics are those of Python's `limits` (what Flask-Limiter uses), so a deployment can
/// move between the two without clients seeing different decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// One counter per window, **anchored at the first hit** and reset when the window expires.
    /// Cheapest; allows up to twice the amount across a window boundary. Rejected hits are
    /// counted too, so a client that keeps hammering stays rejected until the window ends.
    #[default]
    FixedWindow,
    /// A log of hit timestamps: at most `amount` hits in any window of the limit's length.
    /// Exact, but costs memory and time in proportion to the amount.
    MovingWindow,
    /// The current and the previous window's counters, the previous one weighted by how much of
    /// it still overlaps the sliding window. Nearly as exact as the moving window, as cheap as
    /// the fixed one.
    SlidingWindowCounter,
}

impl Strategy {
    /// Every strategy.
    pub const ALL: [Strategy; 3] = [
        Strategy::FixedWindow,
        Strategy::MovingWindow,
        Strategy::SlidingWindowCounter,
    ];

    /// The name used in configuration: `fixed-window`, `moving-window`, `sliding-window-counter`.
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::FixedWindow => "fixed-window",
            Strategy::MovingWindow => "moving-window",
            Strategy::SlidingWindowCounter => "sliding-window-counter",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown strategy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rate limiting strategy '{0}': expected fixed-window, moving-window or \
     sliding-window-counter"
)]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|strategy| strategy.name() == name)
            .ok_or_else(|| UnknownStrategy(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
        }
        assert_eq!(
            "token-bucket".parse::<Strategy>().unwrap_err().to_string(),
            "invalid rate limiting strategy 'token-bucket': expected fixed-window, moving-window \
             or sliding-window-counter"
        );
    }
}
