//! Plain `axum::Router`s and services in a [`Router`]: a third-party router nested or merged
//! as it is, limited by the limiter's defaults (through the limiter's layer, added when the
//! router is given to the limiter) or explicitly unlimited; and axum's `*_service` methods.

use super::Router;
use crate::error::BuildError;
use crate::layer::LimiterLayer;
use crate::limiter::Limiter;
use crate::resolve::RouteRecord;
use axum::extract::Request;
use axum::response::IntoResponse;
use std::convert::Infallible;

/// A plain router waiting for the limiter: nested at `prefix`, or merged (`None`).
pub(super) struct Plain<S> {
    pub(super) prefix: Option<String>,
    pub(super) router: axum::Router<S>,
}

/// The registry's path for every route of a plain router at `prefix` (`/*` when merged).
fn wildcard(prefix: Option<&str>) -> String {
    format!("{}/*", prefix.unwrap_or("").trim_end_matches('/'))
}

/// An opt-out line of the registry: `path`, served without the limiter.
fn unlimited(path: String) -> RouteRecord {
    RouteRecord::plain(path, None)
}

impl<S> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// Nests a plain `axum::Router` (a third-party crate's, say) under `prefix`, as it is: each
    /// of its routes is limited by the limiter's default, application and meta limits, under
    /// its own endpoint (its path pattern), through [`Limiter::layer`]. The registry lists it as
    /// one line, `{prefix}/*`.
    pub fn nest_axum(mut self, prefix: &str, router: axum::Router<S>) -> Self {
        self.plain.push(Plain {
            prefix: Some(prefix.to_owned()),
            router,
        });
        self
    }

    /// Merges a plain `axum::Router` as it is, its routes limited by the defaults as with
    /// [`nest_axum`](Self::nest_axum); the registry lists it as `/*`.
    pub fn merge_axum(mut self, router: axum::Router<S>) -> Self {
        self.plain.push(Plain {
            prefix: None,
            router,
        });
        self
    }

    /// Nests a plain `axum::Router` under `prefix` **without** any limit: an explicit opt-out,
    /// listed in the registry (and by `limiter limits`) as `{prefix}/*`, unlimited.
    pub fn nest_unlimited(mut self, prefix: &str, router: axum::Router<S>) -> Self {
        self.routes.push(unlimited(wildcard(Some(prefix))));
        self.inner = self.inner.nest(prefix, router);
        self
    }

    /// Merges a plain `axum::Router` **without** any limit (an explicit opt-out, listed as
    /// `/*`, unlimited).
    pub fn merge_unlimited(mut self, router: axum::Router<S>) -> Self {
        self.routes.push(unlimited(wildcard(None)));
        self.inner = self.inner.merge(router);
        self
    }

    /// Routes `path` to a tower service (as [`axum::Router::route_service`]), without any
    /// limit: an explicit opt-out, listed as such in the registry. To limit a service, give it
    /// [`Limiter::layer`] first.
    pub fn route_service<T>(mut self, path: &str, service: T) -> Self
    where
        T: tower::Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        T::Response: IntoResponse,
        T::Future: Send + 'static,
    {
        self.routes.push(unlimited(path.to_owned()));
        self.inner = self.inner.route_service(path, service);
        self
    }

    /// Nests a tower service at `path` (as [`axum::Router::nest_service`]), without any limit:
    /// an explicit opt-out, listed as `{path}/*` in the registry.
    pub fn nest_service<T>(mut self, path: &str, service: T) -> Self
    where
        T: tower::Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        T::Response: IntoResponse,
        T::Future: Send + 'static,
    {
        self.routes.push(unlimited(wildcard(Some(path))));
        self.inner = self.inner.nest_service(path, service);
        self
    }

    /// The service for requests that match no route (as [`axum::Router::fallback_service`]);
    /// like [`fallback`](Self::fallback), not limited.
    pub fn fallback_service<T>(mut self, service: T) -> Self
    where
        T: tower::Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        T::Response: IntoResponse,
        T::Future: Send + 'static,
    {
        self.inner = self.inner.fallback_service(service);
        self
    }

    /// Nests or merges the waiting plain routers into `inner`, each behind the limiter's layer
    /// (defaults only), and returns their registry lines.
    pub(super) fn attach_plain(
        inner: axum::Router<S>,
        plain: Vec<Plain<S>>,
        limiter: &Limiter,
    ) -> Result<(axum::Router<S>, Vec<RouteRecord>), BuildError> {
        let mut inner = inner;
        let mut records = Vec::with_capacity(plain.len());
        if plain.is_empty() {
            return Ok((inner, records));
        }
        let layer = LimiterLayer::defaults(limiter)?;
        for Plain { prefix, router } in plain {
            let mut record = unlimited(wildcard(prefix.as_deref()));
            record.cell = Some(Default::default());
            records.push(record);
            let limited = router.route_layer(layer.clone());
            inner = match prefix {
                Some(prefix) => inner.nest(&prefix, limited),
                None => inner.merge(limited),
            };
        }
        Ok((inner, records))
    }
}
