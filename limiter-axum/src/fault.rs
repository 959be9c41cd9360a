//! [`FaultSwitch`] (feature `fault-injection`): storage failures on demand, for tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared switch that makes every storage call fail while on (feature `fault-injection`), to
/// test [`FailureMode`](crate::FailureMode) and the in-memory fallback without a real outage.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch(Arc<AtomicBool>);

impl FaultSwitch {
    /// A switch, off.
    pub fn new() -> Self {
        FaultSwitch::default()
    }

    /// Turns failures on or off.
    pub fn set(&self, failing: bool) {
        self.0.store(failing, Ordering::SeqCst);
    }

    /// Whether failures are on.
    pub(crate) fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
