//! The rate-limiting strategies of `limits`, and GCRA: their names, and their arithmetic.
//!
//! [`Strategy`] names a strategy; the submodules hold its arithmetic as pure functions of a
//! state, the time, the limit and the cost, with no storage inside (as governor keeps its GCRA
//! apart from its state stores). Time comes in as an argument, read by the caller from the
//! injectable [`Clock`](crate::clock::Clock), so the arithmetic is tested without waiting.
//!
//! * `fixed_window`: a counter anchored at the window's first hit.
//! * `moving_window`: a log of the admitted hits' times.
//! * `sliding_window`: the current and previous windows' counts, the previous one weighted by
//!   its overlap; on clock-aligned buckets, or from counters' time-to-live values.
//! * `gcra`: one theoretical arrival time per key (not in `limits`; governor's algorithm).
//!
//! The in-process storage keeps these states in its tables; memcached reads and writes the
//! sliding window's counts on the server and decides with the same arithmetic; Redis and
//! MongoDB carry the same steps out server-side (Lua scripts, update pipelines), so that each
//! decision stays one atomic step there and the stored values stay those of Python's `limits`,
//! and decode their answers with the helpers here (e.g. `sliding_window::stats_from_ttls`).
//!
//! # Adding a strategy
//!
//! 1. Here, `strategy/mod.rs`: a variant of [`Strategy`], its name in [`Strategy::name`] and
//!    [`Strategy::ALL`], its slot in `Strategy::index` (the over-limit cache keeps one entry
//!    per strategy and sizes itself from `ALL`).
//! 2. Its arithmetic in a file of its own, `strategy/<name>.rs`: a state type with
//!    `expires_at`, and `acquire` / `admits` / `stats` taking `(cost, amount, now, expiry)`,
//!    unit-tested on plain numbers.
//! 3. The memory storage, `storage/memory.rs`: a table for the state (with its `Expiring`
//!    impl), and the new arm in `acquire_all`, `test` and `window_stats`; the table in `clear`,
//!    `reset`, `sweep`, `len` and `capacity`.
//! 4. Every other backend carries it out atomically or says it cannot: Redis a Lua script
//!    (`storage/redis/*.lua`, chosen in `scripts.rs`) and its record in `decode.rs`; MongoDB an
//!    update pipeline (`storage/mongodb/commands.rs`) and its `acquire_*` in `mod.rs`; keys and
//!    stored values those of Python's `limits` when it has the strategy. A backend that cannot
//!    answers `false` from `supports` (as memcached for the moving window).
//! 5. Tests: `limiter-core/tests/strategies.rs` (semantics on the memory storage, with a
//!    [`ManualClock`](crate::clock::ManualClock)) and the backends' live tests under `tests/`.

pub(crate) mod fixed_window;
pub(crate) mod gcra;
pub(crate) mod moving_window;
mod outcome;
pub(crate) mod sliding_window;

pub use outcome::{Decision, WindowStats};

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

/// How hits are counted against a window.
///
/// The window strategies' semantics are those of Python's `limits` (what Flask-Limiter uses), so
/// a deployment can move between the two without clients seeing different decisions; GCRA is
/// governor's algorithm, which `limits` does not have.
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
    /// GCRA, the generic cell rate algorithm (governor's, redis-cell's; not in `limits`): a
    /// token bucket kept as one time per key. `10 per second` lets a hit through every 100 ms
    /// (the emission interval, the period over the amount), with up to `burst` hits at once on
    /// a bucket left idle. Smooth where the windows are not: no reset edge to wait for.
    ///
    /// `burst: None` (what the name `gcra` parses to, [`Strategy::GCRA`]) takes each limit's
    /// amount as its burst, as governor's `Quota::per_second(10)`: a fresh key gets 10 at once.
    /// `Some(n)` gives every limit a burst of `n`; `Some(1)` spaces every hit by the interval.
    ///
    /// In the rate-limit headers, `remaining` is how many more hits would pass now, and the
    /// reset is when the bucket is full again, or for a rejected hit when it would pass (see
    /// the `strategies` chapter of limiter-axum's guide).
    Gcra {
        /// How many hits may pass at once; `None`: each limit's amount.
        burst: Option<NonZeroU64>,
    },
}

impl Strategy {
    /// Every strategy (GCRA with its default burst).
    pub const ALL: [Strategy; 4] = [
        Strategy::FixedWindow,
        Strategy::MovingWindow,
        Strategy::SlidingWindowCounter,
        Strategy::GCRA,
    ];

    /// GCRA with each limit's amount as its burst: what `gcra` names in configuration.
    pub const GCRA: Strategy = Strategy::Gcra { burst: None };

    /// The name used in configuration: `fixed-window`, `moving-window`, `sliding-window-counter`,
    /// `gcra` (whatever its burst).
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::FixedWindow => "fixed-window",
            Strategy::MovingWindow => "moving-window",
            Strategy::SlidingWindowCounter => "sliding-window-counter",
            Strategy::Gcra { .. } => "gcra",
        }
    }

    /// This strategy with `burst` if it is GCRA (`None`: each limit's amount); any other
    /// strategy unchanged. For a burst read from configuration (`RATELIMIT_GCRA_BURST`).
    pub const fn with_gcra_burst(self, burst: Option<NonZeroU64>) -> Strategy {
        match self {
            Strategy::Gcra { .. } => Strategy::Gcra { burst },
            other => other,
        }
    }

    /// The strategy's position in [`Strategy::ALL`]: a slot for per-strategy state.
    pub(crate) const fn index(self) -> usize {
        match self {
            Strategy::FixedWindow => 0,
            Strategy::MovingWindow => 1,
            Strategy::SlidingWindowCounter => 2,
            Strategy::Gcra { .. } => 3,
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
    "invalid rate limiting strategy '{0}': expected fixed-window, moving-window, \
     sliding-window-counter or gcra"
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
            "invalid rate limiting strategy 'token-bucket': expected fixed-window, moving-window, \
             sliding-window-counter or gcra"
        );
        // Any burst is still `gcra`.
        let smooth = Strategy::GCRA.with_gcra_burst(NonZeroU64::new(1));
        assert_eq!(smooth.name(), "gcra");
        assert_eq!(smooth.index(), Strategy::GCRA.index());
        assert_eq!(
            Strategy::FixedWindow.with_gcra_burst(NonZeroU64::new(1)),
            Strategy::FixedWindow
        );
    }
}
