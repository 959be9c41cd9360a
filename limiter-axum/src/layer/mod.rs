//! The limiter as a [`tower::Layer`], for an existing `axum::Router` or any service over
//! `http::Request` (tonic included), without rewriting its routes.
//!
//! See [`Limiter::layer`]; `docs/migration.md` at the root of the repository walks an existing
//! app through adopting it.

mod grpc;
mod service;
mod table;

pub use service::{LimiterService, ResponseFuture};

use crate::decl::Limit;
use crate::error::BuildError;
use crate::exemption::ExemptionScope;
use crate::limiter::Limiter;
use crate::routing::filter_methods;
use axum::routing::MethodFilter;
use std::borrow::Cow;
use std::sync::Arc;
use table::{Declaration, RouteTable};

impl Limiter {
    /// The limiter as a [`tower::Layer`] for an existing `axum::Router` or any service over
    /// `http::Request` (tonic included), without rewriting its routes.
    ///
    /// It starts a [`LayerBuilder`]: the limiter's application, default and meta
    /// limits apply to every route, and limits of a route's own are declared by path (and method)
    /// with [`LayerBuilder::limit`] & co. [`LayerBuilder::build`] resolves them once, lists them
    /// in the registry ([`Limiter::routes`], `limiter limits`) and gives the [`LimiterLayer`].
    ///
    /// ```
    /// use axum::routing::get;
    /// use limiter_axum::{get_remote_address, Limiter};
    ///
    /// async fn slow() -> &'static str { "24" }
    /// async fn fast() -> &'static str { "42" }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let limiter = Limiter::new(get_remote_address)
    ///     .default_limits(["2 per minute"])
    ///     .build()
    ///     .await?;
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/slow", get(slow))
    ///     .route("/fast", get(fast))
    ///     .route_layer(limiter.layer().limit("/slow", "1 per day").build()?);
    /// assert_eq!(limiter.routes()[1].path, "/slow");
    /// # Ok::<(), limiter_axum::BuildError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// With axum, give the layer to [`route_layer`](axum::Router::route_layer): it wraps each
    /// route, knows it by its pattern (`/users/{id}`, from axum's `MatchedPath`), and, like
    /// Flask-Limiter, never limits requests that match no route. Given to
    /// [`layer`](axum::Router::layer), it wraps the fallback too, where it knows a request by its
    /// path (the defaults apply to 404s). Given to a tonic server, it knows each call by its
    /// RPC's path (`/package.Service/Method`) and answers a rejected call with the gRPC status
    /// `RESOURCE_EXHAUSTED`.
    pub fn layer(&self) -> LayerBuilder {
        LayerBuilder {
            limiter: self.clone(),
            declarations: Vec::new(),
        }
    }
}

/// The routes of a [`LimiterLayer`] with limits (or exemptions) of their own, declared by path
/// as written in the router (`/users/{id}`), or by RPC path for tonic
/// (`/helloworld.Greeter/SayHello`). Every other route gets the limiter's defaults.
///
/// Each declaration is one route, as one handler of the [`Router`](crate::Router) mirror: its
/// endpoint is the path (or the [`name`](Self::name) given), its limits resolved with the
/// defaults and application limits as Flask-Limiter resolves a decorated view's.
#[must_use = "a layer builder does nothing until built and given to a router"]
pub struct LayerBuilder {
    limiter: Limiter,
    declarations: Vec<Declaration>,
}

impl std::fmt::Debug for LayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerBuilder")
            .field("routes", &self.declarations.len())
            .finish_non_exhaustive()
    }
}

impl LayerBuilder {
    /// The declaration of `path` for `methods` (`None`: every method), made on first use.
    fn declaration(&mut self, path: &str, methods: Option<MethodFilter>) -> &mut Declaration {
        let methods = methods.map(filter_methods);
        let index = match self
            .declarations
            .iter()
            .position(|d| d.path == path && d.methods == methods)
        {
            Some(index) => index,
            None => {
                self.declarations.push(Declaration {
                    path: path.to_owned(),
                    name: None,
                    methods,
                    limits: Vec::new(),
                    exempt: None,
                });
                self.declarations.len() - 1
            }
        };
        &mut self.declarations[index]
    }

    /// Limits `path` (every method) with a limit string, as `#[limit("…")]` on its handler.
    pub fn limit(self, path: &str, limit: impl Into<Cow<'static, str>>) -> Self {
        self.limit_with(path, Limit::new(limit))
    }

    /// Limits `path` (every method) with a [`Limit`] and its options.
    pub fn limit_with(mut self, path: &str, limit: Limit) -> Self {
        self.declaration(path, None).limits.push(limit);
        self
    }

    /// Limits `filter`'s methods of `path` (`MethodFilter::POST`), as a handler routed for
    /// those methods only: its own endpoint, separate from the path's other methods'.
    pub fn limit_on(mut self, filter: MethodFilter, path: &str, limit: Limit) -> Self {
        self.declaration(path, Some(filter)).limits.push(limit);
        self
    }

    /// Exempts `path` (every method) from default, application and meta limits, as `#[exempt]`.
    pub fn exempt(self, path: &str) -> Self {
        self.exempt_with(path, ExemptionScope::DEFAULT_EXEMPTION)
    }

    /// Exempts `path` (every method) with these flags, as `#[exempt(flags = …)]`.
    pub fn exempt_with(mut self, path: &str, flags: ExemptionScope) -> Self {
        let declaration = self.declaration(path, None);
        declaration.exempt = Some(declaration.exempt.unwrap_or_default().union(flags));
        self
    }

    /// Names the endpoint of `path` (every method): its default limits' bucket and its name in
    /// the registry (by default, the path).
    pub fn name(mut self, path: &str, name: impl Into<String>) -> Self {
        self.declaration(path, None).name = Some(name.into());
        self
    }

    /// Resolves every declared route's limits (a malformed limit string is an error here),
    /// records them in the limiter's registry with a line for every other route (`*`), and
    /// gives the layer. Like [`Router::with_limiter`](crate::Router::with_limiter), it reports
    /// handlers whose attributes no router applies, and prints the manifest for the `limiter`
    /// CLI when asked to.
    pub fn build(self) -> Result<LimiterLayer, BuildError> {
        let (table, infos) = RouteTable::new(&self.limiter, self.declarations)?;
        crate::registration::check_routed(&self.limiter)?;
        self.limiter.routes.lock().extend(infos);
        crate::inspect::exit_if_inspecting(&self.limiter);
        Ok(LimiterLayer {
            table: Arc::new(table),
        })
    }
}

impl LimiterLayer {
    /// The layer of `limiter` with no route of its own (the defaults everywhere), not listed in
    /// the registry: what limits a plain router nested in a [`Router`](crate::Router).
    pub(crate) fn defaults(limiter: &Limiter) -> Result<Self, BuildError> {
        let (table, _) = RouteTable::new(limiter, Vec::new())?;
        Ok(LimiterLayer {
            table: Arc::new(table),
        })
    }
}

/// The limiter as a [`tower::Layer`]: made by [`Limiter::layer`], given to axum's
/// `route_layer`/`layer` or a tonic server's `layer`. Cloning is cheap.
///
/// A rejected request gets the same 429 (or `on_breach` response) and headers as with the
/// [`Router`](crate::Router) mirror; a rejected gRPC call gets the gRPC status
/// `RESOURCE_EXHAUSTED` instead, as gRPC clients expect.
#[derive(Clone)]
pub struct LimiterLayer {
    table: Arc<RouteTable>,
}

impl std::fmt::Debug for LimiterLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimiterLayer").finish_non_exhaustive()
    }
}

impl<S> tower::Layer<S> for LimiterLayer {
    type Service = LimiterService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LimiterService::new(inner, self.table.clone())
    }
}
