//! [`Core`]: what a built limiter shares with every route's check — its settings, limits,
//! storages and failover state. [`Limiter`](crate::Limiter) is a handle on it; the check reads it
//! on every request.

use crate::check::failover::Failover;
use crate::check::PartitionKeySecret;
use crate::decl::{Limit, OnBreach};
#[cfg(feature = "fault-injection")]
use crate::fault::FaultSwitch;
use crate::key::KeyFunc;
use crate::options::{FailureMode, HeaderNames, HeaderStyle, RetryAfter};
use crate::Request;
use limiter_core::{RateLimit, RateLimiter, StorageError, Strategy};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// A request filter: requests it matches are not limited at all.
pub(crate) type RequestFilter = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

/// A built limiter's state, shared by its handle and every route it resolved.
pub(crate) struct Core {
    pub(crate) key_func: Arc<dyn KeyFunc>,
    pub(crate) key_func_name: String,
    pub(crate) default_limits: Vec<Limit>,
    pub(crate) application_limits: Vec<Limit>,
    pub(crate) meta_limits: Vec<Limit>,
    pub(crate) storage_uri: String,
    pub(crate) strategy: Strategy,
    pub(crate) primary: RateLimiter,
    pub(crate) fallback: Option<RateLimiter>,
    pub(crate) fallback_limits: Vec<Limit>,
    pub(crate) failover: Failover,
    pub(crate) headers_enabled: bool,
    pub(crate) current_limits: bool,
    pub(crate) header_names: HeaderNames,
    pub(crate) retry_after: RetryAfter,
    pub(crate) header_style: HeaderStyle,
    /// The secret of the IETF fields' partition keys; none are sent without it.
    pub(crate) header_partition_key: Option<PartitionKeySecret>,
    pub(crate) key_prefix: String,
    pub(crate) enabled: bool,
    pub(crate) fail_on_first_breach: bool,
    pub(crate) on_breach: Option<OnBreach>,
    pub(crate) on_meta_breach: Option<OnBreach>,
    pub(crate) request_filters: Vec<RequestFilter>,
    pub(crate) failure_mode: FailureMode,
    /// Dynamic limit strings already parsed, by string.
    pub(crate) dynamic_cache: RwLock<HashMap<Box<str>, Arc<[RateLimit]>>>,
    #[cfg(feature = "fault-injection")]
    pub(crate) fault: Option<FaultSwitch>,
}

impl Core {
    /// The storage to use for this request and whether it is the fallback, probing the primary
    /// for recovery when a probe is due.
    pub(crate) async fn current_backend(&self) -> (&RateLimiter, bool) {
        if self.failover.is_down() {
            if self.failover.claim_probe() && self.storage_check().await {
                self.failover.recovered();
                return (&self.primary, false);
            }
            if let Some(fallback) = &self.fallback {
                return (fallback, true);
            }
        }
        (&self.primary, false)
    }

    /// Marks the primary storage down, if a fallback exists; `true` if the caller should retry
    /// on the fallback.
    pub(crate) fn mark_dead(&self) -> bool {
        self.fallback.is_some() && self.failover.mark_down()
    }

    /// The injected failure of `backend`, if the fault switch is on and it is the primary.
    pub(crate) fn fault(&self, backend: &RateLimiter) -> Result<(), StorageError> {
        #[cfg(feature = "fault-injection")]
        if let Some(fault) = &self.fault {
            if fault.is_on() && std::ptr::eq(backend, &self.primary) {
                return Err(StorageError::Backend {
                    backend: "fault-injection",
                    source: "injected storage failure".into(),
                });
            }
        }
        let _ = backend;
        Ok(())
    }

    /// Whether the primary storage answers (a recovery probe).
    async fn storage_check(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        if let Some(fault) = &self.fault {
            if fault.is_on() {
                return false;
            }
        }
        self.primary.storage().check().await
    }
}
