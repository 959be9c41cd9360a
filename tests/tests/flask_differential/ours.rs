//! Our side: the app of an [`AppSpec`] built with limiter-axum's programmatic API (`on(..)`,
//! `.limit_with(..)`, `.exempt_with(..)`, named routers for blueprints, the `Limiter` builder),
//! served on loopback.

use crate::spec::{AppSpec, BlueprintSpec, LimitSpec, RouteSpec};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Html;
use axum::routing::MethodFilter;
use limiter_axum::routing::{on, MethodRouter};
use limiter_axum::{
    get_remote_address, ExemptionScope, Limit, Limiter, RetryAfter, Router, UnroutedHandlers,
};
use limiter_tests::Server;

/// Every view of the differential apps: `ok`, with the status of the `x-status` header, as HTML
/// (the content type Flask gives a view's string).
pub async fn respond(headers: HeaderMap) -> (StatusCode, Html<&'static str>) {
    let status = headers
        .get("x-status")
        .and_then(|value| value.to_str().ok()?.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    (status, Html("ok"))
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("a method name")
}

fn flags(names: &[String]) -> ExemptionScope {
    names
        .iter()
        .map(|name| match name.as_str() {
            "APPLICATION" => ExemptionScope::APPLICATION,
            "DEFAULT" => ExemptionScope::DEFAULT,
            "META" => ExemptionScope::META,
            "DESCENDENTS" => ExemptionScope::DESCENDENTS,
            "ANCESTORS" => ExemptionScope::ANCESTORS,
            other => panic!("unknown exemption flag {other}"),
        })
        .fold(ExemptionScope::NONE, ExemptionScope::union)
}

fn limit(spec: &LimitSpec) -> Limit {
    let mut limit = Limit::new(spec.value.clone())
        .cost(spec.cost)
        .override_defaults(spec.override_defaults);
    if let Some(scope) = &spec.shared_scope {
        limit = limit.scope(scope.clone()).shared();
    }
    if spec.per_method {
        limit = limit.per_method();
    }
    if let Some(methods) = &spec.methods {
        limit = limit.methods(methods.iter().map(|m| method(m)));
    }
    if let Some(message) = &spec.error_message {
        limit = limit.error_message(message.clone());
    }
    if let Some(predicate) = spec.deduct_when {
        limit = limit.deduct_when(move |response| predicate.charges(response.status().as_u16()));
    }
    limit
}

fn method_router(route: &RouteSpec) -> MethodRouter {
    if let Some(ours) = route.ours {
        return ours();
    }
    let filter = route
        .methods
        .iter()
        .map(|m| MethodFilter::try_from(method(m)).expect("a routable method"))
        .reduce(MethodFilter::or)
        .expect("a route has methods");
    let mut router = on(filter, respond).name(route.name.clone());
    for spec in &route.limits {
        router = router.limit_with(limit(spec));
    }
    if let Some(names) = &route.exempt {
        router = router.exempt_with(flags(names));
    }
    router
}

fn add_routes(mut router: Router, routes: &[RouteSpec]) -> Router {
    for route in routes {
        router = router.route(&route.path, method_router(route));
    }
    router
}

fn blueprint(spec: &BlueprintSpec) -> Router {
    let mut router = add_routes(Router::named(spec.name.clone()), &spec.routes);
    for spec in &spec.limits {
        router = router.limit_with(limit(spec));
    }
    if let Some(names) = &spec.exempt {
        router = router.exempt_with(flags(names));
    }
    for child in &spec.blueprints {
        router = router.nest(&child.prefix, blueprint(child));
    }
    router
}

/// Builds the limiter and the router of `spec` and serves them on `127.0.0.1:0`.
pub async fn serve(spec: &AppSpec) -> Server {
    // The differential tests' attributed handlers belong to other apps of this binary.
    let mut builder = Limiter::new(get_remote_address)
        .unrouted_handlers(UnroutedHandlers::Allow)
        .strategy(spec.strategy)
        .storage_uri("memory://")
        .headers_enabled(spec.headers)
        .retry_after(match spec.retry_after {
            crate::spec::RetryAfterForm::Seconds => RetryAfter::DeltaSeconds,
            crate::spec::RetryAfterForm::HttpDate => RetryAfter::HttpDate,
        })
        .fail_on_first_breach(spec.fail_on_first_breach)
        .default_limits(spec.default_limits.limits.clone())
        .default_limits_per_method(spec.default_limits.per_method)
        .default_limits_cost(spec.default_limits.cost)
        .application_limits(spec.application_limits.limits.clone())
        .application_limits_per_method(spec.application_limits.per_method)
        .application_limits_cost(spec.application_limits.cost);
    if let Some(predicate) = spec.default_limits.deduct_when {
        builder = builder.default_limits_deduct_when(move |response| {
            predicate.charges(response.status().as_u16())
        });
    }
    if let Some(predicate) = spec.application_limits.deduct_when {
        builder = builder.application_limits_deduct_when(move |response| {
            predicate.charges(response.status().as_u16())
        });
    }
    let limiter = builder.build().await.expect("build our limiter");
    let mut router = add_routes(Router::new(), &spec.routes);
    for child in &spec.blueprints {
        router = router.nest(&child.prefix, blueprint(child));
    }
    let app = router.with_limiter(&limiter).expect("build our router");
    limiter_tests::serve(app).await
}
