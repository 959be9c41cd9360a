//! [`RouteTable`]: which resolved route a request going through the layer is checked against.
//!
//! Routes declared on the layer are resolved once, at [`LayerBuilder::build`](super::LayerBuilder::build),
//! and listed in the registry. Any other route gets the limiter's default and application limits
//! under its own endpoint (its matched path), resolved on its first request and kept.

use crate::check::HandlerCell;
use crate::decl::Limit;
use crate::error::BuildError;
use crate::exemption::ExemptionScope;
use crate::limiter::Limiter;
use crate::registry::RouteInfo;
use crate::resolve::{resolve, RouteRecord};
use axum::http::Method;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// The most undeclared paths resolved one by one; requests to further paths share the
/// catch-all endpoint [`OTHER_ROUTES`]. Without axum's `MatchedPath` (the layer given to
/// `Router::layer` or to a tonic server), the path is the client's, so this bounds the memory a
/// client can make the layer keep.
const MAX_UNDECLARED: usize = 1024;

/// The endpoint of the registry line that stands for every undeclared route, and of the
/// requests beyond [`MAX_UNDECLARED`].
pub(crate) const OTHER_ROUTES: &str = "*";

/// One route declared on the layer: a path, the methods it covers, its limits.
pub(crate) struct Declaration {
    pub(crate) path: String,
    pub(crate) name: Option<String>,
    /// `None`: every method.
    pub(crate) methods: Option<Vec<Method>>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) exempt: Option<ExemptionScope>,
}

/// A declared route, resolved.
struct Declared {
    methods: Option<Vec<Method>>,
    cell: Arc<HandlerCell>,
}

/// The resolved routes of a layer, by path.
pub(crate) struct RouteTable {
    limiter: Limiter,
    declared: HashMap<Box<str>, Vec<Declared>>,
    /// Undeclared paths, resolved with the defaults on first use.
    undeclared: RwLock<HashMap<Box<str>, Arc<HandlerCell>>>,
    /// The catch-all route of undeclared paths beyond [`MAX_UNDECLARED`].
    other: Arc<HandlerCell>,
}

impl RouteTable {
    /// Resolves `declarations` against `limiter`, returning the table and the registry's lines
    /// (the declared routes, then the catch-all line of every other route).
    pub(crate) fn new(
        limiter: &Limiter,
        declarations: Vec<Declaration>,
    ) -> Result<(Self, Vec<RouteInfo>), BuildError> {
        let mut declared: HashMap<Box<str>, Vec<Declared>> = HashMap::new();
        let mut infos = Vec::with_capacity(declarations.len() + 1);
        for declaration in declarations {
            let cell = Arc::new(HandlerCell::default());
            let methods = declaration
                .methods
                .clone()
                .unwrap_or_else(crate::routing::every_method);
            let record = RouteRecord {
                path: declaration.path.clone(),
                name: declaration
                    .name
                    .clone()
                    .unwrap_or_else(|| declaration.path.clone()),
                methods,
                ancestry: Vec::new(),
                limits: declaration.limits.clone(),
                exempt: declaration.exempt,
                application_only: false,
                cell: Some(cell.clone()),
            };
            infos.push(resolve(limiter, &record)?);
            declared
                .entry(declaration.path.as_str().into())
                .or_default()
                .push(Declared {
                    methods: declaration.methods,
                    cell,
                });
        }
        let other = Arc::new(HandlerCell::default());
        let mut other_info = resolve(
            limiter,
            &RouteRecord::plain(OTHER_ROUTES.to_owned(), Some(other.clone())),
        )?;
        other_info.methods = Vec::new();
        infos.push(other_info);
        let table = RouteTable {
            limiter: limiter.clone(),
            declared,
            undeclared: RwLock::new(HashMap::new()),
            other,
        };
        Ok((table, infos))
    }

    /// The route a request of `method` to `path` (axum's matched path, else the URI's) is
    /// checked against.
    pub(crate) fn route(&self, path: &str, method: &Method) -> Arc<HandlerCell> {
        if let Some(routes) = self.declared.get(path) {
            let covering = routes
                .iter()
                .find(|route| Declaration::covers_methods(route.methods.as_deref(), method));
            if let Some(route) = covering {
                return route.cell.clone();
            }
        }
        if let Some(cell) = self.undeclared.read().get(path) {
            return cell.clone();
        }
        self.resolve_undeclared(path)
    }

    /// Resolves the undeclared `path` with the defaults (once), or gives the catch-all route
    /// when too many paths were seen.
    #[cold]
    fn resolve_undeclared(&self, path: &str) -> Arc<HandlerCell> {
        let mut undeclared = self.undeclared.write();
        if let Some(cell) = undeclared.get(path) {
            return cell.clone();
        }
        if undeclared.len() >= MAX_UNDECLARED {
            return self.other.clone();
        }
        let cell = Arc::new(HandlerCell::default());
        // The limiter's limits were checked when it was built: resolving cannot fail.
        if let Err(error) = resolve(
            &self.limiter,
            &RouteRecord::plain(path.to_owned(), Some(cell.clone())),
        ) {
            tracing::error!(%error, path, "rate limit layer: could not resolve the route");
            return self.other.clone();
        }
        undeclared.insert(path.into(), cell.clone());
        cell
    }
}

impl Declaration {
    fn covers_methods(methods: Option<&[Method]>, method: &Method) -> bool {
        methods.is_none_or(|methods| methods.contains(method))
    }
}
