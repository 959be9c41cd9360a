//! The per-route check: each handler is wrapped in a [`LimitedHandler`], so the check runs after
//! routing (the handler's limits are known) and before the handler (nothing of a rejected
//! handler runs, not even its extractors).

use crate::decl::{Limit, Provider};
use crate::limiter::{Core, FailureMode, RetryAfter};
use crate::registry::LimitSource;
use crate::{CurrentLimits, Key, Request, RequestLimit, Response};
use arrayvec::ArrayVec;
use axum::body::{Body, Bytes};
use axum::handler::Handler;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use limiter_core::{
    parse_many, AdmittedReset, Decision, Hit, RateLimit, RateLimiter, Storage, StorageError,
    Timestamp,
};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::SystemTime;

/// How an entry takes part in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// Application limits, and defaults when nothing overrides them.
    Always,
    /// Route and router limits.
    Decorated,
    /// Defaults that apply only when every decorated limit is method-exempt for the request.
    DefaultFallback,
}

/// One declared limit, resolved for one route: its bucket and its precomputed 429 body.
pub(crate) struct Entry {
    pub(crate) limit: Limit,
    pub(crate) source: LimitSource,
    pub(crate) kind: EntryKind,
    /// The bucket without the per-method suffix.
    pub(crate) scope: Box<str>,
    /// The buckets of the route's methods, for per-method limits.
    pub(crate) method_scopes: Vec<(Method, Box<str>)>,
    /// The 429 body of each static limit (same order as `limit.rate_limits()`).
    pub(crate) bodies: Vec<Bytes>,
}

impl Entry {
    pub(crate) fn new(
        limit: Limit,
        source: LimitSource,
        kind: EntryKind,
        endpoint: &str,
        methods: &[Method],
    ) -> Self {
        let scope: Box<str> = match (&limit.scope, limit.shared) {
            (Some(scope), true) => scope.as_ref().into(),
            (Some(scope), false) => format!("{endpoint}:{scope}").into(),
            (None, _) => endpoint.into(),
        };
        let method_scopes = if limit.per_method {
            methods
                .iter()
                .map(|m| (m.clone(), format!("{scope}:{}", m.as_str()).into()))
                .collect()
        } else {
            Vec::new()
        };
        let bodies = limit
            .rate_limits()
            .iter()
            .map(|rate| too_many_requests_body(limit.error_message.as_deref(), rate))
            .collect();
        Entry {
            limit,
            source,
            kind,
            scope,
            method_scopes,
            bodies,
        }
    }

    fn applies_to(&self, method: &Method) -> bool {
        match &self.limit.methods {
            None => true,
            Some(methods) => methods.contains(method),
        }
    }

    fn scope_for(&self, method: &Method) -> Cow<'_, str> {
        if !self.limit.per_method {
            return Cow::Borrowed(&self.scope);
        }
        match self.method_scopes.iter().find(|(m, _)| m == method) {
            Some((_, scope)) => Cow::Borrowed(scope),
            None => Cow::Owned(format!("{}:{}", self.scope, method.as_str())),
        }
    }
}

/// Werkzeug's 429 page, byte for byte (§4.10), with the description HTML-escaped.
pub(crate) fn too_many_requests_body(message: Option<&str>, rate: &RateLimit) -> Bytes {
    let description = match message {
        Some(message) => message.to_owned(),
        None => rate.to_string(),
    };
    let mut escaped = String::with_capacity(description.len());
    for c in description.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&#34;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    Bytes::from(format!(
        "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n\
         <h1>Too Many Requests</h1>\n<p>{escaped}</p>\n"
    ))
}

/// A route's resolved limits, filled in by [`Router::with_limiter`](crate::Router::with_limiter).
pub(crate) struct ResolvedRoute {
    pub(crate) core: Arc<Core>,
    pub(crate) endpoint: String,
    pub(crate) entries: Vec<Entry>,
    pub(crate) fallback_entries: Vec<Entry>,
    pub(crate) meta: bool,
    /// `entries`' items, when they do not depend on the request (see [`plan`]).
    pub(crate) plan: Option<Box<[Item<'static>]>>,
}

/// Shared between a route's service and the router until the limiter resolves it.
#[derive(Default)]
pub(crate) struct HandlerCell {
    pub(crate) resolved: OnceLock<Arc<ResolvedRoute>>,
}

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
    pub(crate) fn new(handler: H, cell: Arc<HandlerCell>) -> Self {
        LimitedHandler { handler, cell }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<H, T, S> Handler<T, S> for LimitedHandler<H>
where
    H: Handler<T, S>,
    S: Send + 'static,
{
    type Future = LimitFuture<H::Future>;

    fn call(self, mut request: Request, state: S) -> Self::Future {
        match decide_now(&self.cell, &request) {
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
                    future: Box::pin(run(cell, request, move |request| {
                        handler.call(request, state)
                    })),
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`LimitedHandler`]: on memory storage the decision is taken in `call` and
    /// the future is the handler's own (plus the headers to add) or the ready 429, with nothing
    /// boxed; network storages and `deduct_when` limits go through a boxed future.
    #[project = LimitFutureProjection]
    pub(crate) enum LimitFuture<F> {
        /// The request passed: the handler's future, then the rate-limit headers, if enabled.
        Inner {
            #[pin]
            future: F,
            headers: Option<(Arc<ResolvedRoute>, HeaderInfo)>,
        },
        /// Answered without the handler (a 429, or a failure-mode status).
        Ready { response: Option<Response> },
        /// The check waits on the storage.
        Boxed { future: BoxFuture },
    }
}

impl<F> Future for LimitFuture<F>
where
    F: Future<Output = Response>,
{
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            LimitFutureProjection::Inner { future, headers } => {
                let mut response = std::task::ready!(future.poll(cx));
                if let Some((route, header)) = headers.take() {
                    write_headers(&route.core, &mut response, header);
                }
                Poll::Ready(response)
            }
            LimitFutureProjection::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(response),
                None => panic!("LimitFuture polled after completion"),
            },
            LimitFutureProjection::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

/// What `call` could decide without waiting.
enum Immediate {
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

/// Takes the whole decision inside `call` when the storage decides synchronously (memory, not
/// failed over, no injected fault) and no limit counts after the response (`deduct_when`).
/// Everything else is left to [`run`]; nothing here has side effects before that choice.
fn decide_now(cell: &HandlerCell, request: &Request) -> Immediate {
    let Some(route) = cell.resolved.get() else {
        return Immediate::Later;
    };
    let core = &*route.core;
    let synchronous = matches!(core.primary.storage(), Storage::Memory(_))
        && !core.dead.load(Ordering::Acquire)
        && core.fault(&core.primary).is_ok();
    let deferred = route
        .entries
        .iter()
        .any(|entry| entry.limit.deduct_when.is_some());
    if !synchronous || deferred {
        return Immediate::Later;
    }
    if !core.enabled || core.request_filters.iter().any(|filter| filter(request)) {
        return Immediate::Serve(None, no_limits(core));
    }
    if let Some(immediate) = decide_planned(route, request) {
        return immediate;
    }
    let prepared = prepare(route, request, false);
    match decided_at_once(route, evaluate(route, &prepared, &core.primary)) {
        Ok(Outcome::Pass {
            header, current, ..
        }) => Immediate::Serve(header.map(|header| (route.clone(), header)), current),
        Ok(Outcome::Reject(response)) => Immediate::Respond(response),
        Err(failed) => *failed,
    }
}

/// The output of a memory-storage `future`, which is ready on the first poll; a storage error
/// (or a future that would wait) becomes the failure mode's answer (boxed: it never happens on
/// memory storage, and the common result stays small).
fn decided_at_once<T>(
    route: &ResolvedRoute,
    future: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, Box<Immediate>> {
    match now_or_never(future) {
        Some(Ok(output)) => Ok(output),
        Some(Err(error)) => Err(Box::new(fail(&route.core, route, &error))),
        None => Err(Box::new(fail(
            &route.core,
            route,
            &"the memory storage did not decide at once",
        ))),
    }
}

/// The most limits a route may have for [`decide_planned`] to decide it.
const PLANNED_LIMITS: usize = 8;

/// The decision for a route with a [`plan`] when nothing else is involved: no meta limits to
/// consult or count, no [`CurrentLimits`] to build (the quickstart's shape). The same decision
/// as [`evaluate`]'s, without preparing a list of items per request, collecting results or
/// sorting them. `None` when the general path must decide; nothing is counted then.
fn decide_planned(route: &Arc<ResolvedRoute>, request: &Request) -> Option<Immediate> {
    let core = &*route.core;
    let plan = route.plan.as_deref()?;
    if plan.is_empty()
        || plan.len() > PLANNED_LIMITS
        || core.current_limits
        || !core.meta_limits.is_empty()
    {
        return None;
    }
    let key = core.key_func.request_key(request);
    if key.is_empty() {
        // The general path logs the skipped limits.
        return None;
    }
    let prefix = core.key_prefix.as_str();
    let skip = usize::from(prefix.is_empty());
    // Fixed-capacity arrays: cheaper to fill than `SmallVec`s, which this path would only use
    // inline anyway.
    let mut ids: ArrayVec<[&str; 3], PLANNED_LIMITS> = ArrayVec::new();
    for item in plan {
        ids.push([prefix, &*key, item.scope.as_ref()]);
    }
    let mut hits: ArrayVec<Hit<'_>, PLANNED_LIMITS> = ArrayVec::new();
    for (item, ids) in plan.iter().zip(&ids) {
        hits.push(Hit {
            limit: &item.rate,
            identifiers: &ids[skip..],
            cost: item.cost,
        });
    }
    let decisions = match decided_at_once(
        route,
        core.primary.acquire_all(&hits, core.fail_on_first_breach),
    ) {
        Ok(decisions) => decisions,
        Err(failed) => return Some(*failed),
    };
    if let Some(index) = decisions.iter().position(|decision| !decision.allowed) {
        let item = &plan[index];
        let decision = decisions[index];
        let identifiers = &ids[index][skip..];
        let entry = &route.entries[item.entry];
        let mut response = breach_response(core, entry, item, &key, identifiers, decision);
        write_headers(core, &mut response, HeaderInfo::of(item, decision));
        return Some(Immediate::Respond(response));
    }
    let header = core.headers_enabled.then(|| {
        // `plan` is not empty: there is a header limit.
        let position = header_limit(plan.iter()).unwrap_or(0);
        (
            route.clone(),
            HeaderInfo::of(&plan[position], decisions[position]),
        )
    });
    Some(Immediate::Serve(header, None))
}

/// Which of the decided `items` (smallest window first) the rate-limit headers report: the
/// first that is not shared, else the first; `None` when there are none.
fn header_limit<'a, 'b: 'a>(
    mut items: impl ExactSizeIterator<Item = &'a Item<'b>>,
) -> Option<usize> {
    let decided = items.len();
    items
        .position(|item| !item.shared)
        .or((decided > 0).then_some(0))
}

/// The failure mode, for an error of a synchronous decision (which the memory storage does not
/// produce; kept for completeness).
fn fail(core: &Core, route: &ResolvedRoute, error: &dyn std::fmt::Display) -> Immediate {
    match core.failure_mode {
        FailureMode::FailOpen => {
            tracing::error!(%error, endpoint = %route.endpoint, "Failed to rate limit. Swallowing error");
            Immediate::Serve(None, no_limits(core))
        }
        FailureMode::FailClosed(status) => {
            tracing::error!(%error, endpoint = %route.endpoint, "Failed to rate limit; failing closed with {status}");
            Immediate::Respond(status_response(status))
        }
    }
}

/// The empty [`CurrentLimits`] of a request nothing was checked for, if handlers want them.
fn no_limits(core: &Core) -> Option<CurrentLimits> {
    core.current_limits.then(CurrentLimits::default)
}

/// Polls `future` once; its output if it was ready.
fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut context = Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// What the check decided before the handler.
enum Outcome {
    Pass {
        header: Option<HeaderInfo>,
        deferred: Vec<Deferred>,
        /// The evaluated limits, when handlers may ask for them.
        current: Option<CurrentLimits>,
    },
    Reject(Response),
}

#[derive(Clone, Copy)]
struct HeaderInfo {
    amount: u64,
    remaining: u64,
    reset_at: Timestamp,
}

impl HeaderInfo {
    /// The headers of `item`'s limit after `decision`.
    fn of(item: &Item<'_>, decision: Decision) -> Self {
        HeaderInfo {
            amount: item.rate.amount(),
            remaining: decision.remaining,
            reset_at: decision.reset_at,
        }
    }
}

/// A `deduct_when` hit to count after the response.
struct Deferred {
    entry: usize,
    rate: RateLimit,
    identifiers: Vec<String>,
    cost: u64,
}

/// The check that waits on the storage (or counts after the response), then `handler`.
async fn run<C, F>(cell: Arc<HandlerCell>, mut request: Request, handler: C) -> Response
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
    let (mut backend, mut in_fallback) = core.current_backend().await;
    let prepared = prepare(route, &request, in_fallback);
    let mut outcome = evaluate(route, &prepared, backend).await;
    drop(prepared);
    if let Err(error) = &outcome {
        if !in_fallback && core.mark_dead() {
            tracing::warn!(%error, "rate limit storage error; retrying on the in-memory fallback");
            if let Some(fallback) = &core.fallback {
                backend = fallback;
                in_fallback = true;
                let prepared = prepare(route, &request, in_fallback);
                outcome = evaluate(route, &prepared, backend).await;
            }
        }
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => match core.failure_mode {
            FailureMode::FailOpen => {
                tracing::error!(%error, endpoint = %route.endpoint, "Failed to rate limit. Swallowing error");
                if let Some(current) = no_limits(core) {
                    request.extensions_mut().insert(current);
                }
                return handler(request).await;
            }
            FailureMode::FailClosed(status) => {
                tracing::error!(%error, endpoint = %route.endpoint, "Failed to rate limit; failing closed with {status}");
                return status_response(status);
            }
        },
    };
    match outcome {
        Outcome::Reject(response) => response,
        Outcome::Pass {
            header,
            deferred,
            current,
        } => {
            if let Some(current) = current {
                request.extensions_mut().insert(current);
            }
            let mut response = handler(request).await;
            let entries = if in_fallback && !route.fallback_entries.is_empty() {
                &route.fallback_entries
            } else {
                &route.entries
            };
            if !deferred.is_empty() {
                let due = due(entries, &deferred, &response);
                deduct(core, backend, due).await;
            }
            if let Some(header) = header {
                write_headers(core, &mut response, header);
            }
            response
        }
    }
}

fn status_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// The `deduct_when` hits whose predicate accepts the response (decided before any await: a
/// `&Response` is not `Send`).
fn due<'a>(
    entries: &[Entry],
    deferred: &'a [Deferred],
    response: &Response,
) -> SmallVec<[&'a Deferred; 2]> {
    deferred
        .iter()
        .filter(|item| {
            entries[item.entry]
                .limit
                .deduct_when
                .as_ref()
                .is_some_and(|predicate| predicate(response))
        })
        .collect()
}

async fn deduct(core: &Core, backend: &RateLimiter, due: SmallVec<[&Deferred; 2]>) {
    for item in due {
        let ids: SmallVec<[&str; 3]> = item.identifiers.iter().map(String::as_str).collect();
        let result = match core.fault(backend) {
            Ok(()) => backend
                .acquire(&item.rate, &ids, item.cost)
                .await
                .map(|_| ()),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::error!(%error, "Failed to deduct rate limit. Swallowing error");
        }
    }
}

/// One limit to check for this request.
pub(crate) struct Item<'a> {
    entry: usize,
    rate: RateLimit,
    /// The limit's own key, or `None` for the limiter's (`Prepared::default_key`).
    key: Option<Key<'a>>,
    scope: Cow<'a, str>,
    cost: u64,
    shared: bool,
    deferred: bool,
}

/// The limits of a request: the route's plan, or built for the request.
// Built on the stack on purpose: boxing it would allocate on every request.
#[allow(clippy::large_enum_variant)]
enum Items<'a> {
    Planned(&'a [Item<'a>]),
    Built(SmallVec<[Item<'a>; 6]>),
}

impl<'a> std::ops::Deref for Items<'a> {
    type Target = [Item<'a>];
    fn deref(&self) -> &[Item<'a>] {
        match self {
            Items::Planned(items) => items,
            Items::Built(items) => items,
        }
    }
}

/// The items of a route whose limits do not depend on the request — static strings, the
/// limiter's key, a fixed cost, no method filter, per-method bucket, `exempt_when` or
/// `deduct_when` (the quickstart's shape) — built once when the route is resolved rather than on
/// every request. `None` when any limit depends on the request.
pub(crate) fn plan(entries: &[Entry]) -> Option<Box<[Item<'static>]>> {
    let independent = entries.iter().all(|entry| {
        let limit = &entry.limit;
        matches!(limit.provider, Provider::Static { .. })
            && limit.methods.is_none()
            && !limit.per_method
            && limit.exempt_when.is_none()
            && limit.key_func.is_none()
            && limit.cost.is_none()
            && limit.deduct_when.is_none()
    });
    if !independent {
        return None;
    }
    // With no method filter, every decorated limit applies to every request, so defaults that
    // stand in for method-exempt decorated limits never do.
    let decorated = entries.iter().any(|e| e.kind == EntryKind::Decorated);
    let mut items = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if entry.kind == EntryKind::DefaultFallback && decorated {
            continue;
        }
        let Provider::Static { limits, .. } = &entry.limit.provider else {
            continue;
        };
        for rate in limits.iter() {
            items.push(Item {
                entry: index,
                rate: *rate,
                key: None,
                scope: Cow::Owned(entry.scope.to_string()),
                cost: entry.limit.fixed_cost,
                shared: entry.limit.shared,
                deferred: false,
            });
        }
    }
    items.sort_by(|a, b| a.rate.granularity_order(&b.rate));
    Some(items.into())
}

/// The request-dependent part of the check, computed without awaiting (a `&Request` is not
/// `Send`, so it must not be held across the storage calls).
struct Prepared<'a> {
    entries: &'a [Entry],
    default_key: Key<'a>,
    items: Items<'a>,
    /// The meta limits that apply: (index in the limiter's meta limits, limit).
    meta: SmallVec<[(usize, RateLimit); 2]>,
}

fn prepare<'a>(route: &'a ResolvedRoute, request: &'a Request, in_fallback: bool) -> Prepared<'a> {
    let core = &*route.core;
    let entries = if in_fallback && !route.fallback_entries.is_empty() {
        &route.fallback_entries
    } else {
        &route.entries
    };
    let default_key = core.key_func.request_key(request);
    let meta = meta_limits(route, request);
    // An empty key is logged once per limit, by the general path below.
    if let (Some(plan), false, false) = (&route.plan, in_fallback, default_key.is_empty()) {
        return Prepared {
            entries,
            default_key,
            items: Items::Planned(plan),
            meta,
        };
    }
    let items = items_for(core, entries, request, &default_key);
    Prepared {
        entries,
        default_key,
        items: Items::Built(items),
        meta,
    }
}

/// The limits of `entries` that apply to `request`, smallest window first.
fn items_for<'a>(
    core: &Core,
    entries: &'a [Entry],
    request: &'a Request,
    default_key: &str,
) -> SmallVec<[Item<'a>; 6]> {
    let method = request.method();
    let decorated_applies = entries
        .iter()
        .any(|e| e.kind == EntryKind::Decorated && e.applies_to(method));

    let mut items: SmallVec<[Item<'a>; 6]> = SmallVec::new();
    for (index, entry) in entries.iter().enumerate() {
        if entry.kind == EntryKind::DefaultFallback && decorated_applies {
            continue;
        }
        if !entry.applies_to(method) {
            continue;
        }
        if let Some(exempt_when) = &entry.limit.exempt_when {
            if exempt_when(request) {
                continue;
            }
        }
        let key = entry
            .limit
            .key_func
            .as_ref()
            .map(|key_func| key_func.request_key(request));
        if key.as_deref().unwrap_or(default_key).is_empty() {
            tracing::error!(
                "Skipping limit: {}. Empty value found in parameters.",
                entry.limit
            );
            continue;
        }
        let scope = entry.scope_for(method);
        let cost = entry.limit.cost_of(request);
        let deferred = entry.limit.deduct_when.is_some();
        let mut push = |rate: RateLimit| {
            items.push(Item {
                entry: index,
                rate,
                key: key.clone(),
                scope: scope.clone(),
                cost,
                shared: entry.limit.shared,
                deferred,
            })
        };
        match &entry.limit.provider {
            Provider::Static { limits, .. } => limits.iter().copied().for_each(&mut push),
            Provider::Dynamic(provider) => {
                let source = provider(request);
                match dynamic_limits(core, &source) {
                    Some(limits) => limits.iter().copied().for_each(&mut push),
                    None => continue,
                }
            }
            Provider::Invalid { .. } => continue,
        }
    }
    // Smallest window first, declaration order among ties (a stable sort), as `limits` does.
    items.sort_by(|a, b| a.rate.granularity_order(&b.rate));
    items
}

/// The meta limits that apply to this request: (index in the limiter's meta limits, limit).
fn meta_limits(route: &ResolvedRoute, request: &Request) -> SmallVec<[(usize, RateLimit); 2]> {
    let mut meta = SmallVec::new();
    if route.meta {
        for (index, limit) in route.core.meta_limits.iter().enumerate() {
            if limit.exempt_when.as_ref().is_some_and(|f| f(request)) {
                continue;
            }
            for rate in limit.rate_limits() {
                meta.push((index, *rate));
            }
        }
    }
    meta
}

impl Prepared<'_> {
    /// The key an item is counted against.
    fn key_of<'s>(&'s self, item: &'s Item<'_>) -> &'s str {
        item.key.as_deref().unwrap_or(&self.default_key)
    }
}

async fn evaluate(
    route: &ResolvedRoute,
    prepared: &Prepared<'_>,
    backend: &RateLimiter,
) -> Result<Outcome, StorageError> {
    let core = &*route.core;
    core.fault(backend)?;
    let entries = prepared.entries;
    let items = &prepared.items;
    let default_key = &prepared.default_key;

    // Meta limits: a client that breached too often is rejected before anything is counted.
    for &(meta_index, rate) in &prepared.meta {
        let meta = &core.meta_limits[meta_index];
        let rate = &rate;
        let ids = [default_key.as_ref(), "meta"];
        if !backend.test(rate, &ids, 1).await? {
            let stats = backend.window_stats(rate, &ids).await?;
            let request_limit = RequestLimit {
                limit: *rate,
                key: rate.key_for(&ids),
                breached: true,
                shared: true,
                remaining: stats.remaining,
                reset_at: reset_header(stats.reset_at),
            };
            let custom = meta
                .on_breach
                .as_ref()
                .or(core.on_meta_breach.as_ref())
                .and_then(|f| f(&request_limit));
            let mut response = custom.unwrap_or_else(|| {
                html_429(too_many_requests_body(meta.error_message.as_deref(), rate))
            });
            let header = HeaderInfo {
                amount: rate.amount(),
                remaining: stats.remaining,
                reset_at: stats.reset_at,
            };
            write_headers(core, &mut response, header);
            return Ok(Outcome::Reject(response));
        }
    }

    let prefix = core.key_prefix.as_str();
    let skip = usize::from(prefix.is_empty());
    let ids: SmallVec<[[&str; 3]; 6]> = items
        .iter()
        .map(|item| [prefix, prepared.key_of(item), item.scope.as_ref()])
        .collect();
    let mut hits: SmallVec<[Hit<'_>; 6]> = SmallVec::new();
    let mut hit_items: SmallVec<[usize; 6]> = SmallVec::new();
    for (index, item) in items.iter().enumerate() {
        if !item.deferred {
            hits.push(Hit {
                limit: &item.rate,
                identifiers: &ids[index][skip..],
                cost: item.cost,
            });
            hit_items.push(index);
        }
    }
    // One storage call for every counted limit of the request.
    let decisions = if hits.is_empty() {
        Default::default()
    } else {
        // Admitted hits' reset times are only reported by headers and `CurrentLimits`.
        let admitted_reset = if core.headers_enabled || core.current_limits {
            AdmittedReset::Exact
        } else {
            AdmittedReset::UpperBound
        };
        backend
            .acquire_all_with(&hits, core.fail_on_first_breach, admitted_reset)
            .await?
    };
    // Results in item order: (item index, decision).
    let mut results: SmallVec<[(usize, Decision); 6]> = SmallVec::new();
    for (position, decision) in decisions.iter().enumerate() {
        results.push((hit_items[position], *decision));
    }
    for (index, item) in items.iter().enumerate() {
        if item.deferred {
            let identifiers = &ids[index][skip..];
            let allowed = backend.test(&item.rate, identifiers, item.cost).await?;
            let stats = backend.window_stats(&item.rate, identifiers).await?;
            results.push((
                index,
                Decision {
                    allowed,
                    remaining: stats.remaining,
                    reset_at: stats.reset_at,
                },
            ));
        }
    }
    results.sort_by_key(|(index, _)| *index);

    let deferred: Vec<Deferred> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.deferred)
        .map(|(index, item)| Deferred {
            entry: item.entry,
            rate: item.rate,
            identifiers: ids[index][skip..].iter().map(|s| (*s).to_owned()).collect(),
            cost: item.cost,
        })
        .collect();

    let breached = results.iter().find(|(_, decision)| !decision.allowed);
    if let Some(&(index, decision)) = breached {
        let item = &items[index];
        // Count the breach against the meta limits (no key prefix, as in Flask-Limiter).
        if !core.meta_limits.is_empty() {
            for meta in &core.meta_limits {
                for rate in meta.rate_limits() {
                    backend
                        .acquire(rate, &[default_key.as_ref(), "meta"], 1)
                        .await?;
                }
            }
        }
        let mut response = breach_response(
            core,
            &entries[item.entry],
            item,
            prepared.key_of(item),
            &ids[index][skip..],
            decision,
        );
        if !deferred.is_empty() {
            let due = due(entries, &deferred, &response);
            deduct(core, backend, due).await;
        }
        write_headers(core, &mut response, HeaderInfo::of(item, decision));
        return Ok(Outcome::Reject(response));
    }

    let header_position = || header_limit(results.iter().map(|&(index, _)| &items[index]));
    let header = if core.headers_enabled {
        header_position().map(|position| {
            let (index, decision) = results[position];
            HeaderInfo::of(&items[index], decision)
        })
    } else {
        None
    };
    // Flask-Limiter's `current_limits` (§4.12): only built when handlers may ask for it, so
    // the allowed path stays free of these allocations otherwise.
    let current = core.current_limits.then(|| {
        let limits = results
            .iter()
            .map(|&(index, decision)| {
                let item = &items[index];
                RequestLimit {
                    limit: item.rate,
                    key: item.rate.key_for(&ids[index][skip..]),
                    breached: !decision.allowed,
                    shared: item.shared,
                    remaining: decision.remaining,
                    reset_at: reset_header(decision.reset_at),
                }
            })
            .collect();
        CurrentLimits::new(limits, header_position())
    });
    Ok(Outcome::Pass {
        header,
        deferred,
        current,
    })
}

/// The 429 of a breached limit, without the rate-limit headers: the response of the last
/// `on_breach` callback that returned one, else Flask's page for the limit.
fn breach_response(
    core: &Core,
    entry: &Entry,
    item: &Item<'_>,
    key: &str,
    identifiers: &[&str],
    decision: Decision,
) -> Response {
    tracing::info!(
        "ratelimit {} ({}) exceeded at endpoint: {}",
        item.rate,
        key,
        item.scope
    );
    let mut custom = None;
    let callbacks = core.on_breach.iter().chain(entry.limit.on_breach.iter());
    if callbacks.clone().next().is_some() {
        let request_limit = RequestLimit {
            limit: item.rate,
            key: item.rate.key_for(identifiers),
            breached: true,
            shared: item.shared,
            remaining: decision.remaining,
            reset_at: reset_header(decision.reset_at),
        };
        for callback in callbacks {
            if let Some(response) = callback(&request_limit) {
                custom = Some(response);
            }
        }
    }
    custom.unwrap_or_else(|| {
        let body = match &entry.limit.provider {
            Provider::Static { limits, .. } => limits
                .iter()
                .position(|r| *r == item.rate)
                .and_then(|i| entry.bodies.get(i).cloned()),
            _ => None,
        };
        html_429(body.unwrap_or_else(|| {
            too_many_requests_body(entry.limit.error_message.as_deref(), &item.rate)
        }))
    })
}

fn dynamic_limits(core: &Core, source: &str) -> Option<Arc<[RateLimit]>> {
    if let Some(limits) = core.dynamic_cache.read().get(source) {
        return Some(limits.clone());
    }
    match parse_many(source) {
        Ok(limits) => {
            let limits: Arc<[RateLimit]> = limits.into();
            let mut cache = core.dynamic_cache.write();
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(source.into(), limits.clone());
            Some(limits)
        }
        Err(error) => {
            tracing::error!(%error, "failed to load dynamic rate limit; the limit is skipped");
            None
        }
    }
}

fn html_429(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `X-RateLimit-Reset`: `int(reset_time + 1)`.
fn reset_header(reset_at: Timestamp) -> u64 {
    (reset_at.as_secs_f64() + 1.0) as u64
}

/// The numbers up to which [`number_header`] answers from its table.
const CACHED_NUMBERS: u64 = 1023;

/// `value` as a header value. Rate-limit headers mostly carry small numbers (the limit, what
/// remains of it, `Retry-After` seconds): those come from a table built on first use, whose
/// values point at static text and are cloned without allocating. Larger ones are formatted.
fn number_header(value: u64) -> HeaderValue {
    static TABLE: OnceLock<Box<[HeaderValue]>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        // One leaked string holds every number's text (about 3 KB, once per process).
        let mut text = String::new();
        let mut ends = Vec::new();
        for number in 0..=CACHED_NUMBERS {
            text.push_str(&number.to_string());
            ends.push(text.len());
        }
        let text: &'static str = Box::leak(text.into_boxed_str());
        let mut start = 0;
        ends.into_iter()
            .map(|end| {
                let value = HeaderValue::from_static(&text[start..end]);
                start = end;
                value
            })
            .collect()
    });
    match usize::try_from(value)
        .ok()
        .and_then(|index| table.get(index))
    {
        Some(cached) => cached.clone(),
        None => HeaderValue::from(value),
    }
}

fn write_headers(core: &Core, response: &mut Response, header: HeaderInfo) {
    if !core.headers_enabled {
        return;
    }
    let names = &core.header_names;
    let now = SystemTime::now();
    let mut retry_at = header.reset_at;
    // A Retry-After the handler set itself wins if it is later (§4.9).
    if let Some(existing) = response.headers().get(&names.retry_after) {
        if let Ok(text) = existing.to_str() {
            let existing_at = match text.trim().parse::<u64>() {
                Ok(seconds) => Some(Timestamp::from(
                    now + std::time::Duration::from_secs(seconds),
                )),
                Err(_) => httpdate::parse_http_date(text).ok().map(Timestamp::from),
            };
            if let Some(existing_at) = existing_at {
                retry_at = retry_at.max(existing_at);
            }
        }
    }
    let headers = response.headers_mut();
    // Room for the four headers at once rather than growing the map as they come.
    headers.reserve(4);
    headers.append(&names.limit, number_header(header.amount));
    headers.append(&names.remaining, number_header(header.remaining));
    headers.append(
        &names.reset,
        HeaderValue::from(reset_header(header.reset_at)),
    );
    let retry_value = match core.retry_after {
        RetryAfter::DeltaSeconds => {
            let delta = retry_at.as_secs_f64() - Timestamp::from(now).as_secs_f64();
            number_header(delta.max(0.0) as u64)
        }
        RetryAfter::HttpDate => {
            let date = httpdate::fmt_http_date(retry_at.to_system_time());
            HeaderValue::from_str(&date).unwrap_or_else(|_| HeaderValue::from_static("0"))
        }
    };
    headers.insert(&names.retry_after, retry_value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{get_remote_address, Limiter};
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;

    fn core() -> Arc<Core> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let limiter: Limiter = runtime
            .block_on(Limiter::new(get_remote_address).build())
            .unwrap();
        limiter.core.clone()
    }

    fn entry(limit: Limit, kind: EntryKind) -> Entry {
        let source = match kind {
            EntryKind::Decorated => LimitSource::Route,
            _ => LimitSource::Default,
        };
        Entry::new(limit, source, kind, "items", &[Method::GET, Method::POST])
    }

    fn request(method: Method) -> Request {
        let peer: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        axum::http::Request::builder()
            .method(method)
            .uri("/items")
            .extension(ConnectInfo(peer))
            .body(Body::empty())
            .unwrap()
    }

    /// What decides a check: (entry, limit, own key, bucket, cost, shared, deferred).
    type Summary = (usize, String, Option<String>, String, u64, bool, bool);

    fn summary(items: &[Item<'_>]) -> Vec<Summary> {
        items
            .iter()
            .map(|item| {
                (
                    item.entry,
                    item.rate.to_string(),
                    item.key.as_deref().map(str::to_owned),
                    item.scope.to_string(),
                    item.cost,
                    item.shared,
                    item.deferred,
                )
            })
            .collect()
    }

    #[test]
    fn number_headers_are_the_numbers() {
        for number in [0, 1, 9, 10, 99, 100, 1022, 1023, 1024, 86_400, u64::MAX] {
            assert_eq!(number_header(number), HeaderValue::from(number), "{number}");
        }
    }

    #[test]
    fn a_plan_is_what_the_request_path_builds() {
        let core = core();
        let shapes = [
            // The quickstart: defaults only.
            vec![
                entry(Limit::new("200 per day"), EntryKind::Always),
                entry(Limit::new("50 per hour"), EntryKind::Always),
            ],
            // Decorated limits (several per string, a shared one, a cost) override the defaults.
            vec![
                entry(Limit::new("5 per minute; 2/second"), EntryKind::Decorated),
                entry(
                    Limit::new("1/day").scope("s").shared(),
                    EntryKind::Decorated,
                ),
                entry(Limit::new("10/hour").cost(3), EntryKind::Decorated),
                entry(Limit::new("200 per day"), EntryKind::DefaultFallback),
                entry(Limit::new("1000/hour"), EntryKind::Always),
            ],
            // Defaults kept only as the fallback of no decorated limit.
            vec![entry(Limit::new("3/minute"), EntryKind::DefaultFallback)],
        ];
        for entries in shapes {
            let plan = plan(&entries).expect("these limits do not depend on the request");
            for method in [Method::GET, Method::POST] {
                let request = request(method);
                let built = items_for(&core, &entries, &request, "10.1.2.3");
                assert_eq!(summary(&plan), summary(&built));
            }
        }
    }

    fn fixed_key(_: &Request) -> Cow<'_, str> {
        Cow::Borrowed("k")
    }

    #[test]
    fn limits_that_depend_on_the_request_have_no_plan() {
        let dependent = [
            Limit::new("1/second").methods([Method::POST]),
            Limit::new("1/second").per_method(),
            Limit::new("1/second").exempt_when(|_| false),
            Limit::new("1/second").deduct_when(|_| true),
            Limit::new("1/second").cost_fn(|_| 1),
            Limit::new("1/second").key_func(fixed_key),
            Limit::dynamic(|_| Cow::Borrowed("1/second")),
        ];
        for limit in dependent {
            let shown = format!("{limit:?}");
            let entries = [
                entry(Limit::new("200 per day"), EntryKind::Always),
                entry(limit, EntryKind::Decorated),
            ];
            assert!(plan(&entries).is_none(), "{shown}");
        }
    }
}
