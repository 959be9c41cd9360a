//! axum's `MethodRouter::layer`, `route_layer` and `with_state` on the limiter's
//! [`MethodRouter`]: each wraps or provides the handlers added so far, and keeps their limits
//! (and so their registry lines) as they are.
//!
//! Each handler keeps its limit check inside its own route (the check wraps the handler), so a
//! layer given here wraps the check: it runs **before** the limiter's check on the way in and
//! sees the check's answer, a `429` included, on the way out.

use super::{HandlerEntry, MakeRouter, MethodRouter, WrapAutomatic};
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::Route;
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Layer, Service};

impl<S> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// Wraps the handlers added so far in `layer` (as axum's
    /// [`MethodRouter::layer`](axum::routing::MethodRouter::layer)): handlers chained after this
    /// call are not wrapped, and a request to a method none of them routes (axum's
    /// `405 Method Not Allowed`) goes through it too, as long as no handler is chained after it
    /// (the path's `405` is answered by its last handler's axum method router).
    ///
    /// The layer runs **before** the limiter's check, because the check belongs to the handler
    /// (as Flask-Limiter's decorator belongs to the view), and a layer wraps the handler whole:
    /// so the layer sees every request, the refused ones included, and its effect (a header, a
    /// trace span, a timeout) applies to the `429` as to any answer. A request the layer answers
    /// by itself (an authentication layer's `401`, say) never reaches the check and costs
    /// nothing. The route's limits stay as they were, in the registry too.
    ///
    /// Flask's automatic `OPTIONS` answer of the path (see
    /// [`Router::automatic_options`](super::Router::automatic_options)), which stands where axum
    /// would answer `405`, goes through the layer too: tower-http's `CorsLayer` given here sees
    /// the preflights.
    ///
    /// ```
    /// use axum::http::HeaderValue;
    /// use axum::middleware::{from_fn, Next};
    /// use axum::extract::Request;
    /// use axum::response::Response;
    /// use limiter_axum::routing::get;
    /// use limiter_axum::{get_remote_address, Limiter, Router};
    ///
    /// async fn list() -> &'static str { "[]" }
    ///
    /// /// Tags every answer of the route, a 429 included.
    /// async fn tag(request: Request, next: Next) -> Response {
    ///     let mut response = next.run(request).await;
    ///     response.headers_mut().insert("x-served-by", HeaderValue::from_static("items"));
    ///     response
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let limiter = Limiter::new(get_remote_address).build().await?;
    /// let app: axum::Router = Router::new()
    ///     .route("/items", get(list).limit("10 per minute").layer(from_fn(tag)))
    ///     .with_limiter(&limiter)?;
    /// assert_eq!(limiter.routes()[0].limits[0].limit, "10 per 1 minute");
    /// # Ok::<(), limiter_axum::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        let automatic = self.automatic.clone();
        let for_automatic = layer.clone();
        let mut wrapped = self.wrap(move |router| router.layer(layer.clone()));
        wrapped.automatic = Arc::new(move |router| automatic(router).layer(for_automatic.clone()));
        wrapped
    }

    /// Wraps the handlers added so far in `layer`, but not the answer to a method none of them
    /// routes (as axum's [`MethodRouter::route_layer`](axum::routing::MethodRouter::route_layer):
    /// a `405 Method Not Allowed` does not go through it, nor does Flask's automatic `OPTIONS`
    /// answer, which stands in its place).
    ///
    /// As with [`layer`](Self::layer), the layer runs **before** the limiter's check, which
    /// belongs to the handler: it sees the refused requests and their `429` too, and a request
    /// it answers by itself is never counted. The route's limits stay as they were.
    ///
    /// ```
    /// use axum::extract::Request;
    /// use axum::http::{header::AUTHORIZATION, StatusCode};
    /// use axum::middleware::{from_fn, Next};
    /// use axum::response::{IntoResponse, Response};
    /// use limiter_axum::routing::post;
    /// use limiter_axum::{get_remote_address, Limiter, Router};
    ///
    /// async fn create() -> &'static str { "{}" }
    ///
    /// /// Refuses anonymous requests before they reach the limiter: they cost nothing.
    /// async fn signed_in(request: Request, next: Next) -> Response {
    ///     if request.headers().contains_key(AUTHORIZATION) {
    ///         next.run(request).await
    ///     } else {
    ///         StatusCode::UNAUTHORIZED.into_response()
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let limiter = Limiter::new(get_remote_address).build().await?;
    /// let app: axum::Router = Router::new()
    ///     .route("/items", post(create).limit("1 per second").route_layer(from_fn(signed_in)))
    ///     .with_limiter(&limiter)?;
    /// # Ok::<(), limiter_axum::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn route_layer<L>(self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.wrap(move |router| router.route_layer(layer.clone()))
    }

    /// Provides the state of the handlers added so far (as axum's
    /// [`MethodRouter::with_state`](axum::routing::MethodRouter::with_state)), turning this into
    /// a method router that needs state `S2` (or none) from its [`Router`](super::Router). The
    /// handlers keep their limits and their checks.
    ///
    /// ```
    /// use axum::extract::State;
    /// use limiter_axum::routing::{get, MethodRouter};
    /// use limiter_axum::{get_remote_address, Limiter, Router};
    ///
    /// async fn greet(State(name): State<&'static str>) -> String { format!("hello {name}") }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let limiter = Limiter::new(get_remote_address).build().await?;
    /// let greeting: MethodRouter = get(greet).limit("1 per second").with_state("world");
    /// let app: axum::Router = Router::new()
    ///     .route("/greet", greeting)
    ///     .with_limiter(&limiter)?;
    /// assert_eq!(limiter.routes()[0].limits[0].limit, "1 per 1 second");
    /// # Ok::<(), limiter_axum::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn with_state<S2>(self, state: S) -> MethodRouter<S2>
    where
        S2: Clone + Send + Sync + 'static,
    {
        let automatic = self.automatic;
        let automatic_state = state.clone();
        let automatic: WrapAutomatic<S2> =
            Arc::new(move |router| automatic(router).with_state(automatic_state.clone()));
        let handlers = self
            .handlers
            .into_iter()
            .map(|entry| {
                let make_router = entry.make_router;
                let state = state.clone();
                let provided: MakeRouter<S2> =
                    Arc::new(move |cell| make_router(cell).with_state(state.clone()));
                HandlerEntry {
                    make_router: provided,
                    methods: entry.methods,
                    name: entry.name,
                    limits: entry.limits,
                    exempt: entry.exempt,
                }
            })
            .collect();
        MethodRouter {
            handlers,
            automatic,
        }
    }

    /// Applies `wrap` to the axum method router of every handler added so far, when
    /// [`Router::route`](super::Router::route) builds it (once, at start-up: nothing is added to
    /// the request's path beyond the layer itself).
    fn wrap<W>(mut self, wrap: W) -> Self
    where
        W: Fn(axum::routing::MethodRouter<S>) -> axum::routing::MethodRouter<S>
            + Send
            + Sync
            + 'static,
    {
        let wrap = Arc::new(wrap);
        for entry in &mut self.handlers {
            let make_router = entry.make_router.clone();
            let wrap = wrap.clone();
            entry.make_router = Arc::new(move |cell| wrap(make_router(cell)));
        }
        self
    }
}
