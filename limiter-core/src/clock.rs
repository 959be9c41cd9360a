//! Time, injectable so that strategies can be tested deterministically.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in wall-clock time, as nanoseconds since the Unix epoch.
///
/// Wall-clock time (not a monotonic clock) because reset times are sent to clients as epoch
/// seconds and shared storages compare times written by several processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from nanoseconds since the Unix epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// A timestamp from (fractional) seconds since the Unix epoch, as Python's `time.time()`.
    pub fn from_secs_f64(seconds: f64) -> Self {
        Timestamp((seconds.max(0.0) * 1e9) as u64)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the Unix epoch, with a fraction.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Whole seconds since the Unix epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// This timestamp plus `duration`, saturating at the far future.
    pub fn saturating_add(self, duration: Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }

    /// How long after `earlier` this is, or zero if it is not later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.as_secs_f64())
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock, read the cheap way.
///
/// On Linux this is `CLOCK_REALTIME_COARSE`: the wall clock as of the last timer tick (a
/// resolution of 1–4 ms), read in about 3 ns instead of about 30 ns for a precise
/// `SystemTime::now()`. Rate-limit windows are at least a second long, so the coarser reading
/// changes no decision that matters, and the limiter reads the clock on every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Timestamp {
        coarse_now()
    }
}

#[cfg(target_os = "linux")]
#[inline]
fn coarse_now() -> Timestamp {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid, writable timespec; CLOCK_REALTIME_COARSE exists on every Linux
    // since 2.6.32 and cannot fail with a valid pointer.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut time) };
    if status != 0 {
        return Timestamp::from(SystemTime::now());
    }
    Timestamp((time.tv_sec as u64).saturating_mul(1_000_000_000) + time.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn coarse_now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// A clock that only moves when told to: for deterministic tests of time-based behaviour.
///
/// Cloning shares the same time, so a test keeps one handle and gives another to the storage.
///
/// ```
/// use limiter_core::clock::{Clock, ManualClock, Timestamp};
/// use std::time::Duration;
///
/// let clock = ManualClock::new(Timestamp::from_nanos(0));
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now().as_secs(), 30);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(start.as_nanos())),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Sets the clock to `time`, forward or backward.
    pub fn set(&self, time: Timestamp) {
        self.nanos.store(time.as_nanos(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.nanos.load(Ordering::SeqCst))
    }
}
