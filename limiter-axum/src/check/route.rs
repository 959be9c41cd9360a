//! [`ResolvedRoute`]: a route's limits as the check reads them, resolved once when the router is
//! given to the limiter, and the [`HandlerCell`] through which its handler receives them.

use super::entry::Entry;
use super::items::{plan, Item};
use super::metrics::RouteMetrics;
use crate::core::Core;
use std::sync::{Arc, OnceLock};

/// A route's resolved limits, filled in by [`Router::with_limiter`](crate::Router::with_limiter).
pub(crate) struct ResolvedRoute {
    pub(crate) core: Arc<Core>,
    pub(crate) endpoint: String,
    pub(crate) entries: Vec<Entry>,
    /// The in-memory fallback limits, which replace `entries` while the storage is down.
    pub(crate) fallback_entries: Vec<Entry>,
    /// Whether the limiter's meta limits apply to the route.
    pub(crate) meta: bool,
    /// `entries`' items, when they do not depend on the request (see [`plan`]).
    pub(crate) plan: Option<Box<[Item<'static>]>>,
    /// Whether a limit of `entries` counts after the response (`deduct_when`), so that the check
    /// must wait for the handler, or the limiter's key function is async.
    pub(crate) deferred: bool,
    /// The route's metric handles (empty without the `metrics` feature).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) metrics: RouteMetrics,
}

impl ResolvedRoute {
    /// The route `endpoint` with these limits, its plan worked out.
    pub(crate) fn new(
        core: Arc<Core>,
        endpoint: String,
        entries: Vec<Entry>,
        fallback_entries: Vec<Entry>,
        meta: bool,
    ) -> Self {
        // An async key function is awaited before the check, so the check waits too.
        let async_key = core.async_key.is_some();
        ResolvedRoute {
            core,
            metrics: RouteMetrics::new(&endpoint),
            endpoint,
            plan: plan(&entries),
            deferred: async_key
                || entries
                    .iter()
                    .any(|entry| entry.limit.counts_after_response()),
            entries,
            fallback_entries,
            meta,
        }
    }

    /// The limits that apply while the primary storage is up, or down (`in_fallback`).
    pub(crate) fn entries(&self, in_fallback: bool) -> &[Entry] {
        if in_fallback && !self.fallback_entries.is_empty() {
            &self.fallback_entries
        } else {
            &self.entries
        }
    }
}

/// Shared between a route's handler and the router until the limiter resolves the route.
#[derive(Default)]
pub(crate) struct HandlerCell {
    pub(crate) resolved: OnceLock<Arc<ResolvedRoute>>,
}
