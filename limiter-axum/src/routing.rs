//! Mirrors of `axum::routing`: [`get`], [`post`], … return a [`MethodRouter`] that carries each
//! handler's limits; [`Router`] mirrors `axum::Router` and records every route for the registry.

use crate::check::{HandlerCell, LimitedHandler};
use crate::decl::Limit;
use crate::error::BuildError;
use crate::exemption::ExemptionScope;
use crate::limiter::Limiter;
use crate::resolve::{resolve, Blueprint, RouteRecord};
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodFilter;
use std::any::TypeId;
use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;

mod method_layers;
mod options;
mod plain;

/// Builds axum's method router of a handler around its route's check, once per
/// [`Router::route`] (a method router added at two paths gets two checks).
type MakeRouter<S> = Arc<dyn Fn(Arc<HandlerCell>) -> axum::routing::MethodRouter<S> + Send + Sync>;

/// Gives the automatic `OPTIONS` answer of a path (stateless) the layers and state its
/// [`MethodRouter`] was given, as axum's `layer` gives them to the answer it would make instead
/// (its `405`).
type WrapAutomatic<S> =
    Arc<dyn Fn(axum::routing::MethodRouter<()>) -> axum::routing::MethodRouter<S> + Send + Sync>;

/// The automatic `OPTIONS` answer as it is, with no layer.
fn bare_automatic<S>() -> WrapAutomatic<S>
where
    S: Clone + Send + Sync + 'static,
{
    Arc::new(|router| router.with_state(()))
}

pub(crate) struct HandlerEntry<S> {
    pub(crate) make_router: MakeRouter<S>,
    pub(crate) methods: Vec<Method>,
    pub(crate) name: Option<String>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) exempt: Option<ExemptionScope>,
}

impl<S: Clone> Clone for HandlerEntry<S> {
    fn clone(&self) -> Self {
        HandlerEntry {
            make_router: self.make_router.clone(),
            methods: self.methods.clone(),
            name: self.name.clone(),
            limits: self.limits.clone(),
            exempt: self.exempt,
        }
    }
}

/// A set of handlers for one path, by method, each with its limits: the limiter's counterpart
/// of [`axum::routing::MethodRouter`], made by [`get`], [`post`], … and given to
/// [`Router::route`].
///
/// The builder methods [`limit`](Self::limit), [`shared_limit`](Self::shared_limit),
/// [`exempt`](Self::exempt), [`exempt_with`](Self::exempt_with) and [`name`](Self::name) apply to
/// the handler added **last**, and do exactly what the attributes do (one implementation).
/// [`layer`](Self::layer), [`route_layer`](Self::route_layer) and
/// [`with_state`](Self::with_state) apply to every handler added so far, as axum's do.
///
/// ```
/// use limiter_axum::routing::get;
/// use limiter_axum::Limit;
/// async fn list() -> &'static str { "[]" }
/// async fn create() -> &'static str { "{}" }
/// let items: limiter_axum::routing::MethodRouter = get(list)
///     .limit("10 per minute")
///     .post(create)
///     .limit_with(Limit::new("1/second").per_method());
/// ```
pub struct MethodRouter<S = ()> {
    pub(crate) handlers: Vec<HandlerEntry<S>>,
    /// What [`layer`](Self::layer) and [`with_state`](Self::with_state) do to the path's
    /// automatic `OPTIONS` answer.
    pub(crate) automatic: WrapAutomatic<S>,
}

impl<S: Clone> Clone for MethodRouter<S> {
    fn clone(&self) -> Self {
        MethodRouter {
            handlers: self.handlers.clone(),
            automatic: self.automatic.clone(),
        }
    }
}

impl<S> std::fmt::Debug for MethodRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodRouter")
            .field("handlers", &self.handlers.len())
            .finish()
    }
}

/// The methods `filter` routes (with `HEAD` when it routes `GET`, as axum does).
pub(crate) fn filter_methods(filter: MethodFilter) -> Vec<Method> {
    let all = [
        (MethodFilter::GET, Method::GET),
        (MethodFilter::HEAD, Method::HEAD),
        (MethodFilter::POST, Method::POST),
        (MethodFilter::PUT, Method::PUT),
        (MethodFilter::DELETE, Method::DELETE),
        (MethodFilter::PATCH, Method::PATCH),
        (MethodFilter::OPTIONS, Method::OPTIONS),
        (MethodFilter::TRACE, Method::TRACE),
        (MethodFilter::CONNECT, Method::CONNECT),
    ];
    let mut methods: Vec<Method> = all
        .iter()
        .filter(|(f, _)| filter.or(*f) == filter)
        .map(|(_, m)| m.clone())
        .collect();
    // axum serves HEAD with the GET handler.
    if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
        methods.insert(1, Method::HEAD);
    }
    methods
}

/// The entry of `handler`, routed for `filter`'s methods (every method, as axum's `any`, for
/// `None`), with the limits its attributes declared.
fn entry<H, T, S>(filter: Option<MethodFilter>, handler: H, methods: Vec<Method>) -> HandlerEntry<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let declared = crate::registration::declared_for(TypeId::of::<H>());
    let name = declared.name.map(str::to_owned).or_else(|| {
        let full = std::any::type_name::<H>();
        let last = full.rsplit("::").next().unwrap_or(full);
        (!last.contains('{') && !last.contains('<')).then(|| last.to_owned())
    });
    let make_router: MakeRouter<S> = Arc::new(move |cell| {
        let limited = LimitedHandler::new(handler.clone(), cell);
        match filter {
            Some(filter) => axum::routing::on(filter, limited),
            None => axum::routing::any(limited),
        }
    });
    HandlerEntry {
        make_router,
        methods,
        name,
        limits: declared.limits,
        exempt: declared.exempt,
    }
}

/// Routes `filter`'s methods to `handler` (as [`axum::routing::on`]).
pub fn on<H, T, S>(filter: MethodFilter, handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    MethodRouter {
        handlers: vec![entry(Some(filter), handler, filter_methods(filter))],
        automatic: bare_automatic(),
    }
}

/// Routes every method to `handler` (as [`axum::routing::any`]).
pub fn any<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    MethodRouter {
        handlers: vec![entry(None, handler, every_method())],
        automatic: bare_automatic(),
    }
}

/// Every method axum routes (what [`any`] covers).
pub(crate) fn every_method() -> Vec<Method> {
    let all = MethodFilter::GET
        .or(MethodFilter::HEAD)
        .or(MethodFilter::POST)
        .or(MethodFilter::PUT)
        .or(MethodFilter::DELETE)
        .or(MethodFilter::PATCH)
        .or(MethodFilter::OPTIONS)
        .or(MethodFilter::TRACE)
        .or(MethodFilter::CONNECT);
    filter_methods(all)
}

macro_rules! top_level {
    ($($name:ident => $filter:ident),* $(,)?) => {$(
        #[doc = concat!("Routes `", stringify!($filter), "` requests to `handler`, with the limits its attributes declare (as [`axum::routing::", stringify!($name), "`]).")]
        pub fn $name<H, T, S>(handler: H) -> MethodRouter<S>
        where
            H: Handler<T, S>,
            T: 'static,
            S: Clone + Send + Sync + 'static,
        {
            on(MethodFilter::$filter, handler)
        }
    )*};
}

top_level!(get => GET, post => POST, put => PUT, delete => DELETE, patch => PATCH, head => HEAD, options => OPTIONS, trace => TRACE, connect => CONNECT);

macro_rules! chained {
    ($($name:ident => $filter:ident),* $(,)?) => {$(
        #[doc = concat!("Adds a `", stringify!($filter), "` handler (as axum's `MethodRouter::", stringify!($name), "`).")]
        pub fn $name<H, T>(self, handler: H) -> Self
        where
            H: Handler<T, S>,
            T: 'static,
        {
            self.on(MethodFilter::$filter, handler)
        }
    )*};
}

impl<S> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// Adds a handler for `filter`'s methods.
    pub fn on<H, T>(mut self, filter: MethodFilter, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.handlers
            .push(entry(Some(filter), handler, filter_methods(filter)));
        self
    }

    chained!(get => GET, post => POST, put => PUT, delete => DELETE, patch => PATCH, head => HEAD, options => OPTIONS, trace => TRACE, connect => CONNECT);

    fn last(&mut self) -> &mut HandlerEntry<S> {
        self.handlers
            .last_mut()
            .expect("a MethodRouter always has a handler")
    }

    /// Adds a limit string (several may be joined with `;`) to the last handler, as
    /// `#[limit("…")]`. A malformed string is reported by [`Router::with_limiter`].
    pub fn limit(self, limit: impl Into<Cow<'static, str>>) -> Self {
        self.limit_with(Limit::new(limit))
    }

    /// Adds a [`Limit`] with options to the last handler, as `#[limit("…", options…)]`.
    pub fn limit_with(mut self, limit: Limit) -> Self {
        self.last().limits.push(limit);
        self
    }

    /// Adds a limit shared by every route with the same `scope`, as `#[shared_limit]`.
    pub fn shared_limit(
        self,
        limit: impl Into<Cow<'static, str>>,
        scope: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.limit_with(Limit::new(limit).scope(scope).shared())
    }

    /// Exempts the last handler from default, application and meta limits, as `#[exempt]`.
    pub fn exempt(self) -> Self {
        self.exempt_with(ExemptionScope::DEFAULT_EXEMPTION)
    }

    /// Exempts the last handler with these flags, as `#[exempt(flags = …)]`.
    pub fn exempt_with(mut self, flags: ExemptionScope) -> Self {
        let entry = self.last();
        entry.exempt = Some(entry.exempt.unwrap_or_default().union(flags));
        self
    }

    /// Names the last handler's endpoint (by default the function's name; closures are named by
    /// their path).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.last().name = Some(name.into());
        self
    }

    /// Adds the handlers of `other` (as axum's `MethodRouter::merge`). The path's automatic
    /// `OPTIONS` answer keeps the layers given to this method router, not `other`'s.
    pub fn merge(mut self, other: MethodRouter<S>) -> Self {
        self.handlers.extend(other.handlers);
        self
    }
}

/// The limiter's counterpart of [`axum::Router`]: the same methods (`route`, `nest`, `merge`,
/// `layer`, `route_layer`, `with_state`, `fallback`), plus a name and limits when it is a
/// blueprint. It records every route (path, methods, endpoint, blueprint) for the registry,
/// and turns into an `axum::Router` only through [`with_limiter`](Self::with_limiter), so a route
/// the limiter does not cover cannot be served by mistake.
///
/// ```
/// use limiter_axum::{get_remote_address, limit, exempt, routing::get, Limiter, Router};
///
/// #[limit("1 per day")]
/// async fn slow() -> &'static str { "24" }
/// async fn fast() -> &'static str { "42" }
/// #[exempt]
/// async fn ping() -> &'static str { "PONG" }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let limiter = Limiter::new(get_remote_address)
///     .default_limits(["2 per minute", "1 per second"])
///     .build()
///     .await?;
/// let app: axum::Router = Router::new()
///     .route("/slow", get(slow))
///     .route("/fast", get(fast))
///     .route("/ping", get(ping))
///     .with_limiter(&limiter)?;
/// let routes = limiter.routes();
/// assert_eq!(routes[0].endpoint, "fast");
/// assert_eq!(routes[0].limits[0].limit, "2 per 1 minute");
/// assert!(routes[1].exempt);
/// assert_eq!(routes[2].limits[0].limit, "1 per 1 day");
/// # Ok::<(), limiter_axum::BuildError>(())
/// # }).unwrap();
/// ```
pub struct Router<S = ()> {
    inner: axum::Router<S>,
    name: Option<String>,
    limits: Vec<Limit>,
    exemption: ExemptionScope,
    routes: Vec<RouteRecord>,
    /// The automatic `OPTIONS` answers: resolved like routes, but not listed in the registry.
    automatic: Vec<RouteRecord>,
    /// Whether [`route`](Self::route) adds automatic `OPTIONS` answers.
    automatic_options: bool,
    /// Plain axum routers limited by the defaults, attached by `with_limiter`.
    plain: Vec<plain::Plain<S>>,
}

impl<S> std::fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.name)
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

impl<S> Default for Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Router::new()
    }
}

impl<S> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// An empty, unnamed router (the application).
    pub fn new() -> Self {
        Router {
            inner: axum::Router::new(),
            name: None,
            limits: Vec::new(),
            exemption: ExemptionScope::NONE,
            routes: Vec::new(),
            automatic: Vec::new(),
            automatic_options: true,
            plain: Vec::new(),
        }
    }

    /// Whether the routes added after this call answer `OPTIONS` by themselves, as Flask does
    /// (on by default).
    ///
    /// A route without an `OPTIONS` handler of its own answers `OPTIONS` with `200` and an
    /// `Allow` header listing its methods, without running any of its handlers. As in Flask,
    /// such an answer (a CORS preflight, say) is never charged to the route's own limits: only
    /// application limits apply to it, and for a route without limits of its own, its blueprint
    /// and default limits, sharing their counters with the route's first handler. It carries
    /// the rate-limit headers, and is refused with a 429 (without `Allow`) like any request.
    /// See [Automatic OPTIONS](crate#automatic-options).
    ///
    /// With `false`, `OPTIONS` on such a route gets axum's `405 Method Not Allowed`. The setting
    /// belongs to this router: a nested or merged router keeps its own.
    ///
    /// ```
    /// use limiter_axum::{get_remote_address, routing::get, Limiter, Router};
    /// async fn list() -> &'static str { "[]" }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let limiter = Limiter::new(get_remote_address).build().await?;
    /// let app: axum::Router = Router::new()
    ///     .automatic_options(false)
    ///     .route("/items", get(list))
    ///     .with_limiter(&limiter)?;
    /// # Ok::<(), limiter_axum::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn automatic_options(mut self, enabled: bool) -> Self {
        self.automatic_options = enabled;
        self
    }

    /// A named router: a Flask blueprint. Its routes' endpoints are `"{name}.{handler}"`, and
    /// when nested, the names of the routers it is nested in come first (`"parent.child.h"`).
    pub fn named(name: impl Into<String>) -> Self {
        let mut router = Router::new();
        router.name = Some(name.into());
        router
    }

    /// Adds a limit to every route of this router (blueprint limits, inherited by nested routers).
    pub fn limit(self, limit: impl Into<Cow<'static, str>>) -> Self {
        self.limit_with(Limit::new(limit))
    }

    /// Adds a [`Limit`] with options to every route of this router.
    pub fn limit_with(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Adds a limit shared by every route of this router (and others with the same scope).
    pub fn shared_limit(
        self,
        limit: impl Into<Cow<'static, str>>,
        scope: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.limit_with(Limit::new(limit).scope(scope).shared())
    }

    /// Exempts this router's routes from default, application and meta limits.
    pub fn exempt(self) -> Self {
        self.exempt_with(ExemptionScope::DEFAULT_EXEMPTION)
    }

    /// Exempts this router with these flags (see [`ExemptionScope`]).
    pub fn exempt_with(mut self, flags: ExemptionScope) -> Self {
        self.exemption = self.exemption.union(flags);
        self
    }

    /// Adds a route (as [`axum::Router::route`]); each handler gets its own limit check, run
    /// before the handler.
    ///
    /// Unless [`automatic_options`](Self::automatic_options) is off, a path none of whose
    /// handlers answers `OPTIONS` also gets Flask's automatic `OPTIONS` answer; give all of a
    /// path's handlers in one call (axum refuses a second `OPTIONS` handler for a path).
    pub fn route(mut self, path: &str, method_router: MethodRouter<S>) -> Self {
        let mut merged: Option<axum::routing::MethodRouter<S>> = None;
        let automatic = if self.automatic_options && !self.has_automatic_options(path) {
            options::automatic_options(path, &method_router.handlers, &method_router.automatic)
        } else {
            None
        };
        if let Some((record, routed)) = automatic {
            self.automatic.push(record);
            merged = Some(routed);
        }
        for handler in method_router.handlers {
            let cell = Arc::new(HandlerCell::default());
            let routed = (handler.make_router)(cell.clone());
            merged = Some(match merged {
                None => routed,
                Some(merged) => merged.merge(routed),
            });
            let name = handler.name.unwrap_or_else(|| path.to_owned());
            self.routes.push(RouteRecord {
                path: path.to_owned(),
                name,
                methods: handler.methods,
                ancestry: Vec::new(),
                limits: handler.limits,
                exempt: handler.exempt,
                application_only: false,
                cell: Some(cell),
            });
        }
        if let Some(merged) = merged {
            self.inner = self.inner.route(path, merged);
        }
        self
    }

    /// Adds a route that the limiter does **not** check: an explicit, visible opt-out (it appears
    /// in the registry as `opt_out`).
    pub fn route_unlimited(
        mut self,
        path: &str,
        method_router: axum::routing::MethodRouter<S, Infallible>,
    ) -> Self {
        self.routes.push(RouteRecord::plain(path.to_owned(), None));
        self.inner = self.inner.route(path, method_router);
        self
    }

    /// Whether `path` already has an automatic `OPTIONS` answer (from an earlier `route` call).
    fn has_automatic_options(&self, path: &str) -> bool {
        self.automatic.iter().any(|record| record.path == path)
    }

    /// The axum router, the registry's routes and the automatic `OPTIONS` answers, each route
    /// given this router's blueprint (if named) as its outermost one.
    fn into_records(self) -> (axum::Router<S>, Vec<RouteRecord>, Vec<RouteRecord>) {
        let mut routes = self.routes;
        let mut automatic = self.automatic;
        if let Some(name) = self.name {
            let blueprint = Arc::new(Blueprint {
                name,
                limits: self.limits,
                exemption: self.exemption,
            });
            for route in routes.iter_mut().chain(automatic.iter_mut()) {
                route.ancestry.insert(0, blueprint.clone());
            }
        }
        (self.inner, routes, automatic)
    }

    /// Nests a router under a path prefix (as [`axum::Router::nest`]); a named router becomes a
    /// nested blueprint.
    pub fn nest(mut self, prefix: &str, mut router: Router<S>) -> Self {
        let base = prefix.trim_end_matches('/');
        for mut plain in std::mem::take(&mut router.plain) {
            plain.prefix = Some(format!("{base}{}", plain.prefix.as_deref().unwrap_or("")));
            self.plain.push(plain);
        }
        let (inner, routes, automatic) = router.into_records();
        let base = prefix.trim_end_matches('/');
        let prefixed = |mut route: RouteRecord| {
            route.path = if route.path == "/" {
                base.to_owned()
            } else {
                format!("{base}{}", route.path)
            };
            route
        };
        self.routes.extend(routes.into_iter().map(prefixed));
        self.automatic.extend(automatic.into_iter().map(prefixed));
        self.inner = self.inner.nest(prefix, inner);
        self
    }

    /// Merges another router's routes into this one (as [`axum::Router::merge`]).
    pub fn merge(mut self, mut other: Router<S>) -> Self {
        self.plain.append(&mut other.plain);
        let (inner, routes, automatic) = other.into_records();
        self.routes.extend(routes);
        self.automatic.extend(automatic);
        self.inner = self.inner.merge(inner);
        self
    }

    /// Wraps every route in a layer (as [`axum::Router::layer`]); the limit checks stay closest
    /// to the handlers.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error: Into<Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.inner = self.inner.layer(layer);
        self
    }

    /// As [`axum::Router::route_layer`].
    pub fn route_layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error: Into<Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.inner = self.inner.route_layer(layer);
        self
    }

    /// The handler for requests that match no route (as [`axum::Router::fallback`]). Like
    /// Flask-Limiter, which never limits 404s, the fallback is not limited.
    pub fn fallback<H, T>(mut self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.inner = self.inner.fallback(handler);
        self
    }

    /// Provides the state (as [`axum::Router::with_state`]).
    pub fn with_state<S2>(self, state: S) -> Router<S2> {
        Router {
            inner: self.inner.with_state(state.clone()),
            name: self.name,
            limits: self.limits,
            exemption: self.exemption,
            routes: self.routes,
            automatic: self.automatic,
            automatic_options: self.automatic_options,
            plain: self
                .plain
                .into_iter()
                .map(|plain| plain::Plain {
                    prefix: plain.prefix,
                    router: plain.router.with_state(state.clone()),
                })
                .collect(),
        }
    }

    /// Resolves every route's limits against `limiter` (defaults, application, router and route
    /// limits, exemptions), records them in the limiter's registry ([`Limiter::routes`]) and
    /// returns the plain `axum::Router` to serve. A malformed limit string declared in code is an
    /// error here, at start-up.
    ///
    /// When the process runs with `LIMITER_INSPECT=manifest` (the `limiter` CLI does this), it
    /// prints [`Limiter::manifest`] as JSON and exits with status 0 instead of returning, so the
    /// app never binds its port; see the `limiter` CLI.
    pub fn with_limiter(mut self, limiter: &Limiter) -> Result<axum::Router<S>, BuildError> {
        let plain = std::mem::take(&mut self.plain);
        let (inner, mut routes, automatic) = self.into_records();
        let (inner, plain_routes) = Self::attach_plain(inner, plain, limiter)?;
        routes.extend(plain_routes);
        let mut infos = Vec::with_capacity(routes.len());
        for route in &routes {
            infos.push(resolve(limiter, route)?);
        }
        // Automatic OPTIONS answers are checked like routes but, as in Flask-Limiter's
        // registry, not listed.
        for route in &automatic {
            resolve(limiter, route)?;
        }
        crate::registration::check_routed(limiter)?;
        limiter.routes.lock().extend(infos);
        crate::inspect::exit_if_inspecting(limiter);
        Ok(inner)
    }
}
