//! The app describing itself to the `limiter` CLI.
//!
//! A compiled app cannot be imported the way `flask limiter` imports a Flask app, so the CLI runs
//! the app binary with `LIMITER_INSPECT=manifest`: [`Router::with_limiter`](crate::Router::with_limiter)
//! then prints the app's [`Manifest`] (every route with its resolved limits, and the limiter's
//! configuration) as JSON on stdout and exits with status 0, before the app binds a port. Without
//! that variable nothing changes.

use crate::decl::Limit;
use crate::registry::{LimitInfo, LimitSource, RouteInfo};
use crate::Limiter;
use limiter_core::manifest::{
    self, HeaderNames, LimitSource as ManifestSource, Manifest, ManifestConfig, ManifestLimit,
    ManifestRoute,
};

/// The group label of routes that are not in a named router, as Flask's `app.name` in the
/// seed's tree.
const APP_GROUP: &str = "app";

impl Limiter {
    /// This app's routes, limits and configuration in the versioned format the `limiter` CLI
    /// reads (`limiter limits`, `limiter config`, `limiter clear`).
    pub fn manifest(&self) -> Manifest {
        let config = self.config();
        let core = &self.core;
        let [limit, remaining, reset, retry_after] = config.header_names.clone();
        let mut manifest_config = ManifestConfig::default();
        manifest_config.enabled = config.enabled;
        manifest_config.strategy = config.strategy;
        manifest_config.storage_uri = config.storage_uri;
        manifest_config.key_prefix = config.key_prefix;
        manifest_config.key_function = config.key_func;
        manifest_config.headers_enabled = config.headers_enabled;
        manifest_config.header_names = {
            let mut names = HeaderNames::default();
            (names.limit, names.remaining, names.reset, names.retry_after) =
                (limit, remaining, reset, retry_after);
            names
        };
        manifest_config.retry_after = config.retry_after;
        manifest_config.fail_on_first_breach = config.fail_on_first_breach;
        manifest_config.on_storage_error = if config.in_memory_fallback {
            "in-memory-fallback".to_owned()
        } else {
            config.failure_mode
        };
        manifest_config.default_limits = config.default_limits;
        manifest_config.application_limits = shared_limits(
            &core.application_limits,
            ManifestSource::Application,
            "global",
        );
        manifest_config.meta_limits =
            shared_limits(&core.meta_limits, ManifestSource::Meta, "meta");
        manifest_config.in_memory_fallback = core
            .fallback_limits
            .iter()
            .flat_map(|limit| limit.rate_limits().iter().map(ToString::to_string))
            .collect();
        let routes = self.routes().iter().map(route).collect();
        Manifest::new(APP_GROUP, manifest_config, routes)
    }
}

/// Prints the manifest and ends the process if the CLI asked for it (`LIMITER_INSPECT=manifest`).
pub(crate) fn exit_if_inspecting(limiter: &Limiter) {
    if manifest::inspect_requested() {
        println!("{}", limiter.manifest().to_json());
        std::process::exit(0);
    }
}

fn shared_limits(
    limits: &[Limit],
    source: ManifestSource,
    default_scope: &str,
) -> Vec<ManifestLimit> {
    limits
        .iter()
        .flat_map(|limit| {
            let scope = limit.scope.as_deref().unwrap_or(default_scope);
            limit.rate_limits().iter().map(move |rate| {
                let mut entry = ManifestLimit::new(rate, source, scope);
                entry.cost = limit.cost.is_none().then_some(limit.fixed_cost);
                entry.exempt_when = limit.exempt_when.as_ref().map(|_| "exempt_when".to_owned());
                entry
            })
        })
        .collect()
}

fn route(info: &RouteInfo) -> ManifestRoute {
    let group = info.blueprint.as_deref().unwrap_or(APP_GROUP);
    let mut route = ManifestRoute::new(
        &info.endpoint,
        group,
        &info.path,
        info.methods.iter().cloned(),
    );
    route.exempt = info.exempt;
    route.limits = info
        .limits
        .iter()
        // The CLI shows application limits once, in their own tree.
        .filter(|limit| limit.source != LimitSource::Application)
        .map(limit)
        .collect();
    route
}

fn limit(info: &LimitInfo) -> ManifestLimit {
    let source = match info.source {
        LimitSource::Default => ManifestSource::Default,
        LimitSource::Application => ManifestSource::Application,
        LimitSource::Route => ManifestSource::Route,
        LimitSource::Blueprint => ManifestSource::Blueprint,
        LimitSource::Fallback => ManifestSource::Fallback,
    };
    let mut entry = match &info.rate {
        Some(rate) => ManifestLimit::new(rate, source, &info.scope),
        None => {
            // A dynamic limit: only its description is known before a request.
            let placeholder = limiter_core::RateLimit::new(0, 1, limiter_core::Granularity::Second);
            let mut entry = ManifestLimit::new(&placeholder, source, &info.scope);
            entry.limit = info.limit.clone();
            entry.dynamic = true;
            entry
        }
    };
    entry.method = info.method.clone();
    entry.shared = info.shared;
    entry.cost = info.cost;
    entry.deduct_when = info.deduct_when.then(|| "deduct_when".to_owned());
    entry.exempt_when = info.exempt_when.then(|| "exempt_when".to_owned());
    entry
}
