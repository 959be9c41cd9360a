//! Choosing routes: all of them sorted by path, one endpoint, or those matching a request path
//! (axum's `{param}` and `{*rest}` syntax, matched with `matchit` as axum does).

use crate::args::Filter;
use crate::error::CliError;
use limiter_core::manifest::Manifest;
use limiter_core::model::{LimitInfo, RouteInfo};

/// The routes a command works on.
#[derive(Debug)]
pub struct Selection<'m> {
    /// The routes, sorted by path (stable: manifest order among equal paths).
    pub routes: Vec<&'m RouteInfo>,
    /// Whether `--endpoint` or `--path` narrowed the choice (then the application and meta
    /// limits are left out).
    pub filtered: bool,
    /// `--method`, upper case.
    pub method: Option<String>,
}

impl Selection<'_> {
    /// The limits of `route` to show: all, or with `--method` only those for that method (and
    /// those not per method).
    pub fn limits<'r>(&self, route: &'r RouteInfo) -> Vec<&'r LimitInfo> {
        route
            .limits
            .iter()
            .filter(|limit| match (&self.method, &limit.method) {
                (Some(wanted), Some(method)) => method.eq_ignore_ascii_case(wanted),
                _ => true,
            })
            .collect()
    }
}

/// Applies `--endpoint`, `--path` and `--method`.
pub fn select<'m>(manifest: &'m Manifest, filter: &Filter) -> Result<Selection<'m>, CliError> {
    let mut routes: Vec<&RouteInfo> = manifest.routes.iter().collect();
    routes.sort_by(|a, b| a.path.cmp(&b.path));
    let method = filter.method.as_ref().map(|m| m.to_ascii_uppercase());
    if let Some(endpoint) = &filter.endpoint {
        routes.retain(|route| &route.endpoint == endpoint);
        if routes.is_empty() {
            return Err(CliError::UnknownEndpoint(endpoint.clone()));
        }
    } else if let Some(path) = &filter.path {
        let matched = match_path(manifest, path)?;
        routes.retain(|route| matched.contains(&route.path.as_str()));
        if routes.is_empty() {
            return Err(CliError::UnknownPath(path.clone()));
        }
        if let Some(method) = &method {
            routes.retain(|route| route.methods.iter().any(|m| m.eq_ignore_ascii_case(method)));
            if routes.is_empty() {
                return Err(CliError::UnknownMethod {
                    method: method.clone(),
                    path: path.clone(),
                });
            }
        }
    }
    Ok(Selection {
        routes,
        filtered: filter.endpoint.is_some() || filter.path.is_some(),
        method,
    })
}

/// The route paths (as declared) that a request path matches: the exact one if declared, else
/// the one the router would pick.
fn match_path<'m>(manifest: &'m Manifest, path: &str) -> Result<Vec<&'m str>, CliError> {
    let mut router = matchit::Router::new();
    let mut inserted: Vec<&str> = Vec::new();
    for route in &manifest.routes {
        if inserted.contains(&route.path.as_str()) {
            continue;
        }
        router
            .insert(route.path.as_str(), route.path.as_str())
            .map_err(|error| CliError::BadManifest {
                origin: "the app".to_owned(),
                detail: format!("route path {:?}: {error}", route.path),
            })?;
        inserted.push(route.path.as_str());
    }
    Ok(router
        .at(path)
        .map(|found| vec![*found.value])
        .unwrap_or_default())
}
