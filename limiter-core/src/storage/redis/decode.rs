//! Script records to decisions, with `limits`' window statistics.

use super::scripts::{self, Record};
use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::strategy::Decision;
use crate::strategy::{sliding_window, Strategy};
use std::time::Duration;

/// A count as a script reports it (a whole number; negative never, but read as 0).
fn count(number: f64) -> u64 {
    // `as` saturates, and turns NaN and negatives into 0.
    number as u64
}

/// A `PTTL` in milliseconds (negative when the key has no expiry or does not exist: 0).
fn millis(number: f64) -> Duration {
    Duration::from_millis(number as u64)
}

/// Turns one hit's script record into its decision, with `limits`' window statistics.
pub(super) fn decode(
    strategy: Strategy,
    now: Timestamp,
    limit: &RateLimit,
    record: &Record,
) -> Decision {
    let allowed = record.allowed;
    let [a, b, c, d] = record.fields;
    let amount = limit.amount();
    let expiry = limit.expiry();
    let (remaining, reset_at) = match strategy {
        Strategy::FixedWindow => {
            // count, PTTL (negative when the key does not exist: reset is now; not read: at most
            // one window away)
            let until_reset = if b == scripts::TTL_NOT_READ {
                expiry
            } else {
                millis(b)
            };
            (
                amount.saturating_sub(count(a)),
                now.saturating_add(until_reset),
            )
        }
        Strategy::MovingWindow => {
            // entries in the window, the oldest of them (seconds since the epoch); an empty
            // window starts now, as `limits`' `get_moving_window`
            let count = count(a);
            let reset_at = if count > 0 {
                Timestamp::from_secs_f64(b).saturating_add(expiry)
            } else {
                now.saturating_add(expiry)
            };
            (amount.saturating_sub(count), reset_at)
        }
        Strategy::SlidingWindowCounter => {
            let stats = sliding_window::stats_from_ttls(
                amount,
                expiry,
                now,
                (count(a), millis(b)),
                (count(c), millis(d)),
            );
            (stats.remaining, stats.reset_at)
        }
        Strategy::Gcra { .. } => {
            // hits that would pass now, nanoseconds until the reset (see gcra.lua)
            (count(a), now.saturating_add(Duration::from_nanos(count(b))))
        }
    };
    Decision {
        allowed,
        remaining,
        reset_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_script_records() {
        let now = Timestamp::from_nanos(1_000_000_000_000);
        let limit: RateLimit = "3/minute".parse().unwrap();
        let record = |allowed, fields| Record { allowed, fields };
        let fixed = record(true, [2.0, 59_000.0, 0.0, 0.0]);
        let decision = decode(Strategy::FixedWindow, now, &limit, &fixed);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 1);
        assert_eq!(
            decision.reset_at,
            now.saturating_add(Duration::from_secs(59))
        );
        // A missing key (PTTL -2): reset now.
        let fresh = record(true, [0.0, -2.0, 0.0, 0.0]);
        assert_eq!(
            decode(Strategy::FixedWindow, now, &limit, &fresh).reset_at,
            now
        );
        // PTTL not read (an admitted hit whose reset time was not asked for): one window away.
        let unread = record(true, [2.0, scripts::TTL_NOT_READ, 0.0, 0.0]);
        assert_eq!(
            decode(Strategy::FixedWindow, now, &limit, &unread).reset_at,
            now.saturating_add(Duration::from_secs(60))
        );

        let moving = record(false, [3.0, 1000.5, 0.0, 0.0]);
        let decision = decode(Strategy::MovingWindow, now, &limit, &moving);
        assert!(!decision.allowed);
        assert_eq!(decision.remaining, 0);
        assert_eq!(decision.reset_at, Timestamp::from_secs_f64(1060.5));
        // An empty window resets one window after now.
        let empty = record(true, [0.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            decode(Strategy::MovingWindow, now, &limit, &empty).reset_at,
            now.saturating_add(Duration::from_secs(60))
        );

        // Previous bucket: 4 with 25 s left; current: 1 with 90 s left (see stats_from_ttls).
        let sliding = record(true, [4.0, 25_000.0, 1.0, 90_000.0]);
        let decision = decode(Strategy::SlidingWindowCounter, now, &limit, &sliding);
        assert_eq!(decision.remaining, 1);
        assert_eq!(
            decision.reset_at,
            now.saturating_add(Duration::from_secs(10))
        );

        // 2 more would pass now; full again in 40 s.
        let gcra = record(true, [2.0, 40e9, 0.0, 0.0]);
        let decision = decode(Strategy::GCRA, now, &limit, &gcra);
        assert_eq!(decision.remaining, 2);
        assert_eq!(
            decision.reset_at,
            now.saturating_add(Duration::from_secs(40))
        );
    }
}
