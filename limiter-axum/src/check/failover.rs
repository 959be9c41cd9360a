//! The circuit breaker on the primary storage, and the failover to the in-memory storage while
//! it is open (Flask-Limiter's `in_memory_fallback`).
//!
//! * **Closed**: every decision goes to the primary. Each failure is counted; a success resets
//!   the count.
//! * **Open**, after [`DEFAULT_FAILURES_TO_OPEN`] consecutive failures (configurable): decisions
//!   skip the primary and go straight to the fallback, or to the failure mode (fail open or fail
//!   closed), so an outage costs no request a timeout.
//! * **Half-open**: a recovery probe is due 1 s after opening, then 2, 4 … 32 s after each
//!   failed probe (then 1 s again); one request takes it and pings the primary. Success closes
//!   the breaker.
//!
//! Each transition is logged once, with its cause. [`Failover`] is only the state machine, on an
//! injectable [`Clock`]; the limiter's core asks it which storage a request uses and runs the
//! probe itself.

use super::response::status_response;
use crate::options::FailureMode;
use crate::Response;
use limiter_core::clock::Clock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The recovery probe intervals, in seconds: 1, 2, 4, 8, 16, 32, then 1 again.
const PROBE_STEPS: [u64; 6] = [1, 2, 4, 8, 16, 32];

/// How many consecutive failed storage calls open the breaker unless configured otherwise: more
/// than one, so that a single slow call does not turn a fail-closed limiter into a second of
/// errors for everyone; few, so that an outage is recognised within a handful of requests.
pub const DEFAULT_FAILURES_TO_OPEN: u32 = 3;

/// What a request gets while the breaker is open and there is no fallback: the failure mode's
/// answer (`None`: let it through unlimited), without a log line per request (the opening was
/// logged once).
pub(crate) fn breaker_open_response(failure_mode: FailureMode) -> Option<Response> {
    match failure_mode {
        FailureMode::FailOpen => None,
        FailureMode::FailClosed(status) => Some(status_response(status)),
    }
}

/// The breaker on the primary storage: whether it is open, and when to probe it next.
pub(crate) struct Failover {
    clock: Arc<dyn Clock>,
    /// Consecutive failures that open the breaker.
    failures_to_open: u32,
    /// Open: the primary is considered down.
    down: AtomicBool,
    /// Consecutive failed calls while closed.
    failures: AtomicU32,
    /// When the next probe is due, in nanoseconds since the epoch.
    next_probe: AtomicU64,
    /// The index in [`PROBE_STEPS`] of the next probe's interval (wrapping).
    probe_step: AtomicU64,
}

impl Failover {
    /// Closed, opening after `failures_to_open` consecutive failures (at least one); time is
    /// read from `clock`.
    pub(crate) fn new(clock: Arc<dyn Clock>, failures_to_open: u32) -> Self {
        Failover {
            clock,
            failures_to_open: failures_to_open.max(1),
            down: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            next_probe: AtomicU64::new(0),
            probe_step: AtomicU64::new(0),
        }
    }

    /// Whether the breaker is open: the primary storage is considered down.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// A call to the primary failed with `cause`. Opens the breaker once the failures in a row
    /// reach the threshold, with the first probe a second from now; `true` only for the call
    /// that opened it.
    pub(crate) fn failed(&self, cause: &dyn std::fmt::Display) -> bool {
        let failures = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        if failures < self.failures_to_open {
            return false;
        }
        self.open(cause)
    }

    /// Opens the breaker now (a failed probe, or the threshold reached); `true` if it was
    /// closed.
    fn open(&self, cause: &dyn std::fmt::Display) -> bool {
        if self.down.swap(true, Ordering::AcqRel) {
            return false;
        }
        tracing::warn!(
            %cause,
            failures = self.failures.load(Ordering::Acquire),
            "rate limit storage unreachable: circuit breaker open, decisions go to the \
             fallback or the failure mode until a probe succeeds (first probe in 1 s)"
        );
        super::metrics::fallback_active(true);
        self.probe_step.store(0, Ordering::Release);
        self.next_probe
            .store(self.after(Duration::from_secs(1)), Ordering::Release);
        true
    }

    /// A call to the primary succeeded: the failures in a row start again from zero. Only
    /// reads, unless there were failures, so the allowed path writes nothing shared.
    #[inline]
    pub(crate) fn succeeded(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Release);
        }
    }

    /// Whether the caller should probe the primary now (half-open): a probe is due and no other
    /// request took it. Each due probe moves the next one a step further, so a primary that
    /// stays down is probed less and less often.
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

    /// A probe succeeded: the breaker closes.
    pub(crate) fn recovered(&self) {
        self.failures.store(0, Ordering::Release);
        self.probe_step.store(0, Ordering::Release);
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("rate limit storage recovered: circuit breaker closed");
            super::metrics::fallback_active(false);
        }
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

    fn failover(failures_to_open: u32) -> (ManualClock, Failover) {
        let clock = ManualClock::new(Timestamp::from_nanos(1_000_000_000_000));
        let failover = Failover::new(Arc::new(clock.clone()), failures_to_open);
        (clock, failover)
    }

    #[test]
    fn opens_after_the_threshold_of_failures_in_a_row() {
        let (_, failover) = failover(3);
        assert!(!failover.failed(&"one"));
        assert!(!failover.failed(&"two"));
        assert!(!failover.is_down());
        assert!(failover.failed(&"three"), "the third opens it");
        assert!(failover.is_down());
        assert!(!failover.failed(&"four"), "already open");
        failover.recovered();
        assert!(!failover.is_down());
        assert!(
            !failover.failed(&"one"),
            "the count starts again after recovery"
        );
    }

    #[test]
    fn a_success_resets_the_count() {
        let (_, failover) = failover(2);
        assert!(!failover.failed(&"one"));
        failover.succeeded();
        assert!(!failover.failed(&"one again"));
        assert!(failover.failed(&"two in a row"));
    }

    #[test]
    fn probes_back_off_one_step_at_a_time() {
        let (clock, failover) = failover(1);
        assert!(failover.failed(&"down"));
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
