//! Failover to the in-memory storage while the primary storage is down (Flask-Limiter's
//! `in_memory_fallback`), and the recovery probes that bring the primary back.
//!
//! [`Failover`] is only the state machine: whether the primary is down, and when the next probe
//! is due, on an injectable [`Clock`]. The limiter's core asks it which storage a request uses
//! and runs the probe itself.

use limiter_core::clock::Clock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The recovery probe intervals, in seconds: 1, 2, 4, 8, 16, 32, then 1 again.
const PROBE_STEPS: [u64; 6] = [1, 2, 4, 8, 16, 32];

/// Whether the primary storage is down, and when to probe it next.
pub(crate) struct Failover {
    clock: Arc<dyn Clock>,
    down: AtomicBool,
    /// When the next probe is due, in nanoseconds since the epoch.
    next_probe: AtomicU64,
    /// The index in [`PROBE_STEPS`] of the next probe's interval (wrapping).
    probe_step: AtomicU64,
}

impl Failover {
    /// The primary is up; time is read from `clock`.
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Failover {
            clock,
            down: AtomicBool::new(false),
            next_probe: AtomicU64::new(0),
            probe_step: AtomicU64::new(0),
        }
    }

    /// Whether the primary storage is considered down.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Marks the primary down, with the first probe a second from now. `true` only for the call
    /// that changed the state (its request retries on the fallback).
    pub(crate) fn mark_down(&self) -> bool {
        if self.down.swap(true, Ordering::AcqRel) {
            return false;
        }
        tracing::warn!("Rate limit storage unreachable - falling back to in-memory storage");
        super::metrics::fallback_active(true);
        self.probe_step.store(0, Ordering::Release);
        self.next_probe
            .store(self.after(Duration::from_secs(1)), Ordering::Release);
        true
    }

    /// Whether the caller should probe the primary now: a probe is due and no other request took
    /// it. Each due probe moves the next one a step further, so a primary that stays down is
    /// probed less and less often.
    pub(crate) fn claim_probe(&self) -> bool {
        let now = self.clock.now().as_nanos();
        let due = self.next_probe.load(Ordering::Acquire);
        if now < due {
            return false;
        }
        let step = self.probe_step.fetch_add(1, Ordering::AcqRel) as usize % PROBE_STEPS.len();
        let interval = Duration::from_secs(PROBE_STEPS[step]).as_nanos() as u64;
        self.next_probe
            .compare_exchange(due, now + interval, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// A probe succeeded: the primary is up again.
    pub(crate) fn recovered(&self) {
        tracing::info!("Rate limit storage recovered");
        super::metrics::fallback_active(false);
        self.probe_step.store(0, Ordering::Release);
        self.down.store(false, Ordering::Release);
    }

    /// `delay` from now, in nanoseconds since the epoch.
    fn after(&self, delay: Duration) -> u64 {
        self.clock.now().saturating_add(delay).as_nanos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use limiter_core::clock::ManualClock;
    use limiter_core::Timestamp;

    fn failover() -> (ManualClock, Failover) {
        let clock = ManualClock::new(Timestamp::from_nanos(1_000_000_000_000));
        let failover = Failover::new(Arc::new(clock.clone()));
        (clock, failover)
    }

    #[test]
    fn only_the_first_failure_marks_the_primary_down() {
        let (_, failover) = failover();
        assert!(!failover.is_down());
        assert!(failover.mark_down());
        assert!(!failover.mark_down());
        assert!(failover.is_down());
        failover.recovered();
        assert!(!failover.is_down());
        assert!(failover.mark_down());
    }

    #[test]
    fn probes_back_off_one_step_at_a_time() {
        let (clock, failover) = failover();
        failover.mark_down();
        assert!(!failover.claim_probe(), "the first probe is a second away");
        for seconds in PROBE_STEPS.into_iter().chain([1]) {
            clock.advance(Duration::from_millis(999));
            assert!(!failover.claim_probe());
            clock.advance(Duration::from_millis(1));
            assert!(failover.claim_probe(), "due after the previous interval");
            assert!(!failover.claim_probe(), "taken by one request only");
            clock.advance(Duration::from_secs(seconds - 1));
        }
    }
}
