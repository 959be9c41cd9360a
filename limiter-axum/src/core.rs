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
use axum::http::HeaderName;
use limiter_core::{RateLimit, RateLimiter, StorageError, Strategy};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// A request filter: requests it matches are not limited at all.
pub(crate) type RequestFilter = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

/// A built limiter's state, shared by its handle and every route it resolved.
pub(crate) struct Core {
    pub(crate) key_func: Arc<dyn KeyFunc>,
    /// The async key function, run before the check (then `key_func` reads its key).
    pub(crate) async_key: Option<crate::key::AsyncKeyFn>,
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
    /// Client keys longer than this are stored as their digest.
    pub(crate) max_key_length: usize,
    pub(crate) enabled: bool,
    pub(crate) fail_on_first_breach: bool,
    pub(crate) on_breach: Option<OnBreach>,
    pub(crate) on_meta_breach: Option<OnBreach>,
    pub(crate) request_filters: Vec<RequestFilter>,
    pub(crate) failure_mode: FailureMode,
    /// Every limit in shadow mode (dry run): counted, a breach logged, nothing refused.
    pub(crate) shadow_mode: bool,
    /// Whether the headers may report a shadow limit.
    pub(crate) shadow_headers: bool,
    /// The response header a handler may set the cost of `cost_from_response` limits in
    /// (removed before the response leaves).
    pub(crate) response_cost_header: Option<HeaderName>,
    /// What building a router or layer does about handlers whose attributes were never routed.
    pub(crate) unrouted_handlers: crate::registration::UnroutedHandlers,
    /// Dynamic limit strings already parsed, by string.
    pub(crate) dynamic_cache: RwLock<HashMap<Box<str>, Arc<[RateLimit]>>>,
    #[cfg(feature = "fault-injection")]
    pub(crate) fault: Option<FaultSwitch>,
}

impl Core {
    /// The storage to use for this request and whether it is the fallback, probing the primary
    /// for recovery when a probe is due; `None` while the circuit breaker is open and there is no
    /// fallback: the failure mode answers without a storage call.
    pub(crate) async fn current_backend(&self) -> Option<(&RateLimiter, bool)> {
        if self.failover.is_down() {
            if self.failover.claim_probe() && self.storage_check().await {
                self.failover.recovered();
                return Some((&self.primary, false));
            }
            return self.fallback.as_ref().map(|fallback| (fallback, true));
        }
        Some((&self.primary, false))
    }

    /// Records a failed call to the primary storage (the circuit breaker opens after enough in a
    /// row); `true` if the caller should retry on the fallback, which every request whose
    /// primary call failed does, those in flight when the storage died included.
    pub(crate) fn mark_dead(&self, error: &StorageError) -> bool {
        self.failover.failed(error);
        self.fallback.is_some()
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
