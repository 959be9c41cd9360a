//! [`LimitedHandler`]: a handler wrapped with its route's check, and the two ways the check runs
//! — at once in `call` when the storage answers at once, else in a boxed future that waits on it.

use super::decide::{decide, decide_now, deduct, due, Answer, Outcome, Undecided};
use super::failover::breaker_open_response;
use super::future::LimitFuture;
use super::headers::{write_headers, HeaderInfo};
use super::items::BuiltItems;
use super::metrics;
use super::prepare::prepare;
use super::response::{status_response, storage_failure};
use super::response_cost::take_response_cost;
use super::route::{HandlerCell, ResolvedRoute};
use crate::core::Core;
use crate::current::CurrentLimits;
use crate::{Request, Response};
use axum::handler::Handler;
use axum::http::StatusCode;
use std::future::Future;
use std::sync::Arc;

/// A handler wrapped with its route's check: what [`Router::route`](crate::Router::route) gives
/// axum in place of the user's handler.
///
/// Wrapping the handler itself, rather than adding a `route_layer`, keeps the route exactly as
/// axum builds a bare one (one boxed route cloned per request, one boxed future): a layered
/// route costs axum a second clone and a second boxed future per request. The check still runs
/// after routing and before the handler's extractors, so nothing of a rejected handler runs.
#[derive(Clone)]
pub(crate) struct LimitedHandler<H> {
    handler: H,
    cell: Arc<HandlerCell>,
}

impl<H> LimitedHandler<H> {
    /// `handler`, checked against the limits the router will resolve into `cell`.
    pub(crate) fn new(handler: H, cell: Arc<HandlerCell>) -> Self {
        LimitedHandler { handler, cell }
    }
}

impl<H, T, S> Handler<T, S> for LimitedHandler<H>
where
    H: Handler<T, S>,
    S: Send + 'static,
{
    type Future = LimitFuture<H::Future>;

    fn call(self, mut request: Request, state: S) -> Self::Future {
        match check_now(&self.cell, &request) {
            Immediate::Serve(headers, current) => {
                if let Some(current) = current {
                    request.extensions_mut().insert(current);
                }
                LimitFuture::Inner {
                    future: self.handler.call(request, state),
                    headers,
                }
            }
            Immediate::Respond(response) => LimitFuture::Ready {
                response: Some(response),
            },
            Immediate::Later => {
                let LimitedHandler { handler, cell } = self;
                LimitFuture::Boxed {
                    future: Box::pin(check_later(cell, request, move |request| {
                        handler.call(request, state)
                    })),
                }
            }
        }
    }
}

/// What `call` could decide without waiting.
pub(crate) enum Immediate {
    /// Run the handler (with these current limits, if enabled), then add these headers.
    Serve(
        Option<(Arc<ResolvedRoute>, HeaderInfo)>,
        Option<CurrentLimits>,
    ),
    /// Answer this, without the handler.
    Respond(Response),
    /// The decision needs the storage's future (or the response, for `deduct_when`).
    Later,
}

/// Takes the whole decision inside `call` when the storage answers at once (and has not failed
/// over, and no fault is injected) and no limit counts after the response (`deduct_when`).
/// Everything else is left to [`check_later`]; nothing is counted before that choice.
pub(crate) fn check_now(cell: &HandlerCell, request: &Request) -> Immediate {
    let Some(route) = cell.resolved.get() else {
        return Immediate::Later;
    };
    let core = &*route.core;
    if route.deferred || core.failover.is_down() || core.fault(&core.primary).is_err() {
        return Immediate::Later;
    }
    if !core.enabled || core.request_filters.iter().any(|filter| filter(request)) {
        return Immediate::Serve(None, no_limits(core));
    }
    let mut built = BuiltItems::new();
    let prepared = prepare(route, request, false, &mut built);
    if prepared.missing_peer {
        return Immediate::Respond(missing_peer(request));
    }
    let failed = match metrics::decision_now(route, || decide_now(route, &prepared)) {
        Ok(Outcome::Pass {
            header, current, ..
        }) => {
            return Immediate::Serve(header.map(|header| (route.clone(), header)), current);
        }
        Ok(Outcome::Reject(response)) => return Immediate::Respond(response),
        Err(Undecided::Wait) => return Immediate::Later,
        Err(Undecided::Failed(error)) => storage_failure(core, &route.endpoint, &error),
        Err(Undecided::Stalled) => storage_failure(
            core,
            &route.endpoint,
            &"the storage stopped answering at once",
        ),
    };
    match failed {
        Some(response) => Immediate::Respond(response),
        None => Immediate::Serve(None, no_limits(core)),
    }
}

/// The 500 of a request whose key needs the peer address it lacks, with the error logged.
#[cold]
fn missing_peer(request: &Request) -> Response {
    crate::key::report_missing_peer(request.uri().path());
    status_response(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The empty [`CurrentLimits`] of a request nothing was checked for, if handlers want them.
fn no_limits(core: &Core) -> Option<CurrentLimits> {
    core.current_limits.then(CurrentLimits::default)
}

/// The check that waits on the storage (or counts after the response), then `handler`. A
/// storage failure moves the limiter to its in-memory fallback, if it has one, and the request
/// is decided again there; else the failure mode answers.
pub(crate) async fn check_later<C, F>(
    cell: Arc<HandlerCell>,
    mut request: Request,
    handler: C,
) -> Response
where
    C: FnOnce(Request) -> F,
    F: Future<Output = Response>,
{
    let Some(route) = cell.resolved.get() else {
        tracing::error!(
            path = %request.uri().path(),
            "route served without a limiter: give the router to Router::with_limiter"
        );
        return status_response(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let core = &route.core;
    if !core.enabled || core.request_filters.iter().any(|filter| filter(&request)) {
        if let Some(current) = no_limits(core) {
            request.extensions_mut().insert(current);
        }
        return handler(request).await;
    }
    let mut request = crate::key::with_async_key(core.async_key.as_ref(), request).await;
    let Some((mut backend, mut in_fallback)) = core.current_backend().await else {
        // The breaker is open and there is no fallback: the failure mode, without waiting.
        if let Some(response) = breaker_open_response(core.failure_mode) {
            return response;
        }
        if let Some(current) = no_limits(core) {
            request.extensions_mut().insert(current);
        }
        return handler(request).await;
    };
    let mut built = BuiltItems::new();
    let prepared = prepare(route, &request, in_fallback, &mut built);
    if prepared.missing_peer {
        return missing_peer(&request);
    }
    let mut outcome =
        metrics::decision(route, in_fallback, decide(route, &prepared, backend)).await;
    // Both borrow the request, which the handler gets next.
    drop(prepared);
    drop(built);
    match &outcome {
        Ok(_) if !in_fallback => core.failover.succeeded(),
        _ => {}
    }
    if let Err(error) = &outcome {
        if !in_fallback && core.mark_dead(error) {
            tracing::debug!(%error, "rate limit storage error; retrying on the in-memory fallback");
            if let Some(fallback) = &core.fallback {
                backend = fallback;
                in_fallback = true;
                let mut built = BuiltItems::new();
                let prepared = prepare(route, &request, in_fallback, &mut built);
                outcome =
                    metrics::decision(route, in_fallback, decide(route, &prepared, backend)).await;
            }
        }
    }
    let (header, deferred) = match outcome {
        Ok(Outcome::Reject(response)) => return response,
        Ok(Outcome::Pass {
            header,
            deferred,
            current,
        }) => {
            if let Some(current) = current {
                request.extensions_mut().insert(current);
            }
            (header, deferred)
        }
        Err(error) => match storage_failure(core, &route.endpoint, &error) {
            Some(response) => return response,
            None => {
                if let Some(current) = no_limits(core) {
                    request.extensions_mut().insert(current);
                }
                (None, Vec::new())
            }
        },
    };
    let mut response = handler(request).await;
    let mut header = header;
    // Taken off every response of a route that may carry one, charged or not.
    let cost = if route.deferred {
        take_response_cost(core, &mut response)
    } else {
        None
    };
    if !deferred.is_empty() {
        let due = due(
            route.entries(in_fallback),
            &deferred,
            &response,
            Answer::Handler(cost),
        );
        header = deduct(core, backend, due, header).await;
    }
    if let Some(header) = header {
        write_headers(core, &mut response, header);
    }
    response
}
