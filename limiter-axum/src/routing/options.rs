//! Flask's automatic `OPTIONS` answer: every route that has no `OPTIONS` handler of its own
//! answers `OPTIONS` with `200` and an `Allow` header, without running any of its handlers.
//!
//! Flask counts only what its `before_request` hook counts for such an answer, since the view,
//! and with it the route's own (decorated) limits, never runs: the application limits, and for
//! a route without limits of its own its blueprint and default limits. The answer is therefore
//! checked as its own route, resolved with no limits of its own, so a CORS preflight can never
//! consume a route's own limits.

use super::{HandlerEntry, WrapAutomatic};
use crate::check::{HandlerCell, LimitedHandler};
use crate::resolve::RouteRecord;
use axum::http::header::ALLOW;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::routing::MethodFilter;
use std::sync::Arc;

/// The automatic `OPTIONS` route of `path`, served by `handlers`, or `None` when one of them
/// answers `OPTIONS` itself (as in Flask, a route's own `OPTIONS` handler wins).
///
/// Its endpoint is the first handler's (Werkzeug matches the first rule of a path), so default
/// and blueprint limits share their counters with that handler. When that handler has limits of
/// its own, Flask's `before_request` skips defaults and blueprint limits for it
/// (`before_ctx`), and so does its automatic answer: only application limits remain.
///
/// `wrap` gives it the layers and state of the path's method router.
pub(super) fn automatic_options<S>(
    path: &str,
    handlers: &[HandlerEntry<S>],
    wrap: &WrapAutomatic<S>,
) -> Option<(RouteRecord, axum::routing::MethodRouter<S>)>
where
    S: Clone + Send + Sync + 'static,
{
    let first = handlers.first()?;
    if handlers
        .iter()
        .any(|handler| handler.methods.contains(&Method::OPTIONS))
    {
        return None;
    }
    let allow = allow_header(handlers)?;
    let cell = Arc::new(HandlerCell::default());
    let answer = move || {
        let allow = allow.clone();
        async move { (StatusCode::OK, [(ALLOW, allow)]) }
    };
    let router = wrap(axum::routing::on(
        MethodFilter::OPTIONS,
        LimitedHandler::new(answer, cell.clone()),
    ));
    let record = RouteRecord {
        path: path.to_owned(),
        name: first.name.clone().unwrap_or_else(|| path.to_owned()),
        methods: vec![Method::OPTIONS],
        ancestry: Vec::new(),
        limits: Vec::new(),
        exempt: first.exempt,
        application_only: !first.limits.is_empty(),
        cell: Some(cell),
    };
    Some((record, router))
}

/// `Allow`: every method of the path's handlers, then `OPTIONS`, each once.
fn allow_header<S>(handlers: &[HandlerEntry<S>]) -> Option<HeaderValue> {
    let mut methods: Vec<&Method> = Vec::new();
    for method in handlers.iter().flat_map(|handler| &handler.methods) {
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    methods.push(&Method::OPTIONS);
    let allow = methods
        .iter()
        .map(|method| method.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&allow).ok()
}
