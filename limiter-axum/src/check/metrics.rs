//! The check's metrics, through the [`metrics`](https://docs.rs/metrics) facade, and its
//! `tracing` spans: plain functions the check calls at each step, which compile to nothing
//! without the `metrics` feature. Names and labels are documented in `docs/metrics.md`.
//!
//! The allowed path only touches handles registered once per route (an atomic add), so with the
//! feature on it still allocates nothing per request; the 429 and error paths register their
//! counters as they go (one per endpoint and limit).

use super::decide::{Outcome, Undecided};
use super::route::ResolvedRoute;
use limiter_core::{Decision, RateLimit, StorageError};
use std::future::Future;

/// Counted when every limit admitted the request.
#[cfg(feature = "metrics")]
pub(crate) const ALLOWED: &str = "limiter_requests_allowed_total";
/// Counted when a limit refused the request (a 429, or `on_breach`'s response).
#[cfg(feature = "metrics")]
pub(crate) const LIMITED: &str = "limiter_requests_limited_total";
/// Counted when a limit in shadow mode would have refused the request.
#[cfg(feature = "metrics")]
pub(crate) const SHADOW_LIMITED: &str = "limiter_requests_shadow_limited_total";
/// Counted when the storage failed a request's decision.
#[cfg(feature = "metrics")]
pub(crate) const STORAGE_ERRORS: &str = "limiter_storage_errors_total";
/// The time a request's decision spent on the storage, in seconds.
#[cfg(feature = "metrics")]
pub(crate) const STORAGE_DURATION: &str = "limiter_storage_duration_seconds";
/// 1 while the limiter answers from its in-memory fallback, else 0.
#[cfg(feature = "metrics")]
pub(crate) const FALLBACK_ACTIVE: &str = "limiter_fallback_active";

/// A route's metric handles, registered on first use (with the recorder installed by then).
/// Empty without the `metrics` feature.
#[derive(Default)]
pub(crate) struct RouteMetrics {
    #[cfg(feature = "metrics")]
    endpoint: metrics::SharedString,
    #[cfg(feature = "metrics")]
    allowed: std::sync::OnceLock<metrics::Counter>,
    /// The storage duration on the primary storage and on the fallback.
    #[cfg(feature = "metrics")]
    durations: [std::sync::OnceLock<metrics::Histogram>; 2],
    /// The breach counters registered so far, so that a 429 does not allocate to count itself.
    #[cfg(feature = "metrics")]
    breaches: parking_lot::RwLock<Vec<BreachCounter>>,
}

/// A registered counter of breaches of one limit.
#[cfg(feature = "metrics")]
struct BreachCounter {
    name: &'static str,
    scope: Box<str>,
    rate: RateLimit,
    counter: metrics::Counter,
}

/// How many breach counters a route keeps (more only with dynamic limits of many scopes or
/// rates; those past it are registered on each breach).
#[cfg(feature = "metrics")]
const CACHED_BREACH_COUNTERS: usize = 32;

impl RouteMetrics {
    /// The handles of the route `endpoint`.
    pub(crate) fn new(endpoint: &str) -> Self {
        #[cfg(feature = "metrics")]
        describe();
        #[cfg(feature = "metrics")]
        return RouteMetrics {
            endpoint: std::sync::Arc::<str>::from(endpoint).into(),
            ..RouteMetrics::default()
        };
        #[cfg(not(feature = "metrics"))]
        {
            let _ = endpoint;
            RouteMetrics::default()
        }
    }
}

/// Gives each metric its description, once, with the recorder installed when the first route
/// is resolved (exporters show them as `# HELP`).
#[cfg(feature = "metrics")]
fn describe() {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    DESCRIBED.call_once(|| {
        use metrics::Unit;
        metrics::describe_counter!(ALLOWED, "Requests every rate limit admitted.");
        metrics::describe_counter!(
            LIMITED,
            "Requests a rate limit refused, by the refusing limit."
        );
        metrics::describe_counter!(
            SHADOW_LIMITED,
            "Requests a rate limit in shadow mode would have refused."
        );
        metrics::describe_counter!(STORAGE_ERRORS, "Rate-limit decisions the storage failed.");
        metrics::describe_histogram!(
            STORAGE_DURATION,
            Unit::Seconds,
            "Time a rate-limit decision spent on the storage."
        );
        metrics::describe_gauge!(
            FALLBACK_ACTIVE,
            "1 while the in-memory fallback answers for the rate-limit storage."
        );
    });
}

/// Counts a request's decision on `route`: allowed if every enforced limit admitted it, else
/// limited by the first refusing enforced limit (the one the 429 reports); each refusal of a
/// limit in shadow mode (`shadow` tells which) is counted as shadow-limited.
#[inline]
pub(crate) fn decided(
    route: &ResolvedRoute,
    items: &[super::items::Item<'_>],
    decisions: &[Decision],
    shadow: impl Fn(&super::items::Item<'_>) -> bool,
) {
    #[cfg(feature = "metrics")]
    {
        let metrics = &route.metrics;
        let mut enforced_refusal = None;
        for (index, (item, decision)) in items.iter().zip(decisions).enumerate() {
            if decision.allowed {
                continue;
            }
            if shadow(item) {
                shadow_limited(route, &item.scope, &item.rate);
            } else if enforced_refusal.is_none() {
                enforced_refusal = Some(index);
            }
        }
        match enforced_refusal {
            None => {
                tracing::debug!(allowed = true, "rate limit decision");
                metrics
                    .allowed
                    .get_or_init(
                        || metrics::counter!(ALLOWED, "endpoint" => metrics.endpoint.clone()),
                    )
                    .increment(1)
            }
            Some(index) => {
                let item = &items[index];
                tracing::debug!(allowed = false, scope = %item.scope, limit = %item.rate, "rate limit decision");
                limited(route, &item.scope, &item.rate);
            }
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (route, items, decisions, shadow);
}

/// Counts a request on `route` refused by the limiter's meta limit `meta_index` (its limit
/// `rate`).
#[inline]
pub(crate) fn meta_limited(route: &ResolvedRoute, meta_index: usize, rate: &RateLimit) {
    #[cfg(feature = "metrics")]
    {
        let meta = &route.core.meta_limits[meta_index];
        tracing::debug!(allowed = false, scope = ?meta.scope, limit = %rate, "rate limit decision");
        limited(route, meta.scope.as_deref().unwrap_or("meta"), rate);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (route, meta_index, rate);
}

/// Counts a request on `route` refused by the limit `rate` of `scope`.
#[cfg(feature = "metrics")]
fn limited(route: &ResolvedRoute, scope: &str, rate: &RateLimit) {
    count_breach(LIMITED, route, scope, rate);
}

/// Counts a request on `route` that the limit `rate` of `scope`, in shadow mode, would have
/// refused (the request passed).
#[inline]
pub(crate) fn shadow_limited(route: &ResolvedRoute, scope: &str, rate: &RateLimit) {
    #[cfg(feature = "metrics")]
    count_breach(SHADOW_LIMITED, route, scope, rate);
    #[cfg(not(feature = "metrics"))]
    let _ = (route, scope, rate);
}

/// Adds one to the counter `name` of breaches of `rate` (in `scope`) on `route`, registering
/// it the first time.
#[cfg(feature = "metrics")]
fn count_breach(name: &'static str, route: &ResolvedRoute, scope: &str, rate: &RateLimit) {
    let route_metrics = &route.metrics;
    let same = |cached: &&BreachCounter| {
        cached.name == name && cached.rate == *rate && *cached.scope == *scope
    };
    if let Some(cached) = route_metrics.breaches.read().iter().find(same) {
        cached.counter.increment(1);
        return;
    }
    let counter = metrics::counter!(
        name,
        "endpoint" => route_metrics.endpoint.clone(),
        "scope" => scope.to_owned(),
        "limit" => rate.to_string(),
    );
    counter.increment(1);
    let mut breaches = route_metrics.breaches.write();
    if breaches.len() < CACHED_BREACH_COUNTERS && !breaches.iter().any(|c| same(&c)) {
        breaches.push(BreachCounter {
            name,
            scope: scope.into(),
            rate: *rate,
            counter,
        });
    }
}

/// Sets the fallback gauge: `active` while the in-memory fallback answers.
#[inline]
pub(crate) fn fallback_active(active: bool) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(FALLBACK_ACTIVE).set(if active { 1.0 } else { 0.0 });
    #[cfg(not(feature = "metrics"))]
    let _ = active;
}

/// [`decide_now`](super::decide::decide_now) (`decide`), in a debug span, timed and counted.
#[inline]
pub(crate) fn decision_now(
    route: &ResolvedRoute,
    decide: impl FnOnce() -> Result<Outcome, Undecided>,
) -> Result<Outcome, Undecided> {
    #[cfg(feature = "metrics")]
    {
        let span = decision_span(route);
        let _entered = span.enter();
        let started = std::time::Instant::now();
        let outcome = decide();
        if !matches!(outcome, Err(Undecided::Wait)) {
            let failed = matches!(outcome, Err(Undecided::Failed(_) | Undecided::Stalled));
            finish(route, false, started, failed);
        }
        outcome
    }
    #[cfg(not(feature = "metrics"))]
    {
        let _ = route;
        decide()
    }
}

/// The waiting decision `decide` on the primary storage or the fallback (`in_fallback`), in a
/// debug span, timed and counted.
#[inline]
pub(crate) fn decision<'a>(
    route: &'a ResolvedRoute,
    in_fallback: bool,
    decide: impl Future<Output = Result<Outcome, StorageError>> + Send + 'a,
) -> impl Future<Output = Result<Outcome, StorageError>> + Send + 'a {
    #[cfg(feature = "metrics")]
    {
        use tracing::Instrument;
        let span = decision_span(route);
        async move {
            let started = std::time::Instant::now();
            let outcome = decide.await;
            finish(route, in_fallback, started, outcome.is_err());
            outcome
        }
        .instrument(span)
    }
    #[cfg(not(feature = "metrics"))]
    {
        let _ = (route, in_fallback);
        decide
    }
}

/// The debug span of a decision on `route`.
#[cfg(feature = "metrics")]
fn decision_span(route: &ResolvedRoute) -> tracing::Span {
    tracing::debug_span!("rate_limit_decision", endpoint = %route.endpoint)
}

/// Records a decision that took the storage since `started`, and its failure.
#[cfg(feature = "metrics")]
fn finish(route: &ResolvedRoute, in_fallback: bool, started: std::time::Instant, failed: bool) {
    let elapsed = started.elapsed();
    let metrics = &route.metrics;
    metrics.durations[usize::from(in_fallback)]
        .get_or_init(|| {
            let core = &route.core;
            let backend = match (&core.fallback, in_fallback) {
                (Some(fallback), true) => fallback,
                _ => &core.primary,
            };
            let storage = backend.storage().backend_name();
            metrics::histogram!(
                STORAGE_DURATION,
                "endpoint" => metrics.endpoint.clone(),
                "storage" => storage,
                "fallback" => if in_fallback { "true" } else { "false" },
            )
        })
        .record(elapsed.as_secs_f64());
    if failed {
        metrics::counter!(STORAGE_ERRORS, "endpoint" => metrics.endpoint.clone()).increment(1);
        tracing::debug!(elapsed = ?elapsed, "rate limit storage error");
    }
}
