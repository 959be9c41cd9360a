//! The limiter as a tower `Layer` on a plain `axum::Router`, over real HTTP: application,
//! default and meta limits on every route, limits declared by path and method, nested plain
//! routers, and the registry of what the layer limits.

use axum::http::Method;
use axum::routing::{get, post};
use limiter_axum::{get_remote_address, Limit, Limiter, LimiterBuilder};
use limiter_tests::{flask_429, serve, Server};

async fn ok() -> &'static str {
    "ok"
}

async fn limiter(builder: LimiterBuilder) -> Limiter {
    builder.build().await.unwrap()
}

/// A plain axum app with its own state, a nested plain router and a fallback: what an existing
/// app looks like before it adopts the limiter.
fn existing_app() -> axum::Router<u32> {
    let users = axum::Router::new()
        .route("/", get(ok))
        .route("/{id}", get(ok).post(ok));
    axum::Router::new()
        .route("/slow", get(ok))
        .route("/fast", get(ok))
        .route(
            "/state",
            get(|axum::extract::State(n): axum::extract::State<u32>| async move { n.to_string() }),
        )
        .route("/login", post(ok).get(ok))
        .nest("/users", users)
}

#[tokio::test]
async fn route_layer_enforces_defaults_and_per_path_limits() {
    let limiter = limiter(
        Limiter::new(get_remote_address)
            .default_limits(["2 per minute"])
            .headers_enabled(true),
    )
    .await;
    let layer = limiter
        .layer()
        .limit("/slow", "1 per day")
        .limit_on(
            axum::routing::MethodFilter::POST,
            "/login",
            Limit::new("1 per minute"),
        )
        .build()
        .unwrap();
    let server = serve(existing_app().route_layer(layer).with_state(7)).await;

    // The path's own limit replaces the defaults, with Flask's 429 body and the headers.
    assert_eq!(server.get("/slow").await.status, 200);
    let rejected = server.get("/slow").await;
    assert_eq!(rejected.status, 429);
    assert_eq!(rejected.body, flask_429("1 per 1 day"));
    assert_eq!(rejected.header("x-ratelimit-limit"), Some("1"));

    // Any other route: the defaults, counted per route.
    assert_eq!(server.statuses("/fast", 3).await, [200, 200, 429]);
    assert_eq!(server.statuses("/state", 3).await, [200, 200, 429]);
    assert_eq!(server.get("/users").await.status, 200);

    // Limits declared for one method: POST /login is its own endpoint, GET /login the
    // defaults'.
    assert_eq!(
        server.request(Method::POST, "/login", &[]).await.status,
        200
    );
    assert_eq!(
        server.request(Method::POST, "/login", &[]).await.status,
        429
    );
    assert_eq!(server.statuses("/login", 3).await, [200, 200, 429]);

    // Unmatched paths are not limited (the layer runs after routing): 404s, as in Flask.
    assert_eq!(server.statuses("/nowhere", 4).await, [404, 404, 404, 404]);
}

#[tokio::test]
async fn a_nested_plain_router_is_limited_by_the_defaults_per_route() {
    let limiter = limiter(Limiter::new(get_remote_address).default_limits(["1 per minute"])).await;
    let layer = limiter.layer().build().unwrap();
    let server = serve(existing_app().route_layer(layer).with_state(1)).await;
    // `/users/{id}` is one route, whatever the id: one bucket for its pattern.
    assert_eq!(server.get("/users/1").await.status, 200);
    assert_eq!(server.get("/users/2").await.status, 429);
    assert_eq!(server.get("/users").await.status, 200);
    assert_eq!(server.get("/users").await.status, 429);
}

#[tokio::test]
async fn application_and_meta_limits_cover_every_route() {
    let limiter = limiter(
        Limiter::new(get_remote_address)
            .application_limits(["3 per minute"])
            .meta_limits(["1 per hour"]),
    )
    .await;
    let layer = limiter.layer().exempt("/fast").build().unwrap();
    let server = serve(existing_app().route_layer(layer).with_state(1)).await;
    // One application counter shared by every route; `/fast` is exempt from it.
    assert_eq!(server.get("/slow").await.status, 200);
    assert_eq!(server.get("/state").await.status, 200);
    assert_eq!(server.get("/users").await.status, 200);
    assert_eq!(server.get("/slow").await.status, 429);
    assert_eq!(server.statuses("/fast", 5).await, [200; 5]);
    // The breach counted against the meta limit: the client is now refused everywhere else.
    assert_eq!(server.get("/users/3").await.status, 429);
}

#[tokio::test]
async fn given_to_router_layer_it_also_limits_the_fallback_by_path() {
    let limiter = limiter(Limiter::new(get_remote_address).default_limits(["1 per minute"])).await;
    let layer = limiter
        .layer()
        .limit("/slow", "2 per minute")
        .build()
        .unwrap();
    // `Router::layer` wraps every route, as `route_layer` does, and the fallback too.
    let server: Server = serve(existing_app().with_state(1).layer(layer)).await;
    assert_eq!(server.statuses("/slow", 3).await, [200, 200, 429]);
    assert_eq!(server.get("/users/1").await.status, 200);
    assert_eq!(server.get("/users/2").await.status, 429);
    // No route matched: the request is known by its path, with the defaults.
    assert_eq!(server.statuses("/nowhere", 2).await, [404, 429]);
    assert_eq!(server.statuses("/elsewhere", 2).await, [404, 429]);
}

#[tokio::test]
async fn the_registry_lists_the_layers_routes() {
    let limiter = limiter(Limiter::new(get_remote_address).default_limits(["2 per minute"])).await;
    let _layer = limiter
        .layer()
        .limit("/slow", "1 per day")
        .limit_on(
            axum::routing::MethodFilter::POST,
            "/login",
            Limit::new("1 per minute"),
        )
        .exempt("/health")
        .build()
        .unwrap();
    let routes = limiter.routes();
    let lines: Vec<(String, String, Vec<String>, bool)> = routes
        .iter()
        .map(|route| {
            (
                route.path.clone(),
                route.endpoint.clone(),
                route.limits.iter().map(|l| l.limit.clone()).collect(),
                route.exempt,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("*".into(), "*".into(), vec!["2 per 1 minute".into()], false),
            ("/health".into(), "/health".into(), vec![], true),
            (
                "/login".into(),
                "/login".into(),
                vec!["1 per 1 minute".into()],
                false
            ),
            (
                "/slow".into(),
                "/slow".into(),
                vec!["1 per 1 day".into()],
                false
            ),
        ]
    );
    assert_eq!(routes[2].methods, ["POST"]);
}

#[tokio::test]
async fn a_malformed_limit_on_the_layer_fails_at_start_up() {
    let limiter = limiter(Limiter::new(get_remote_address)).await;
    let error = limiter
        .layer()
        .limit("/slow", "1 per fortnight")
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("route '/slow' (/slow)"),
        "{error}"
    );
}

#[tokio::test]
async fn on_breach_sees_the_requests_head() {
    use axum::response::IntoResponse;
    let limiter = limiter(
        Limiter::new(get_remote_address)
            .default_limits(["1 per minute"])
            .on_breach_with_request(|limit, request| {
                let json = request
                    .headers
                    .get("accept")
                    .is_some_and(|accept| accept == "application/json");
                let id = request
                    .headers
                    .get("x-request-id")?
                    .to_str()
                    .ok()?
                    .to_owned();
                json.then(|| {
                    let body = format!(
                        "{{\"error\":\"{}\",\"path\":\"{}\",\"request\":\"{id}\"}}",
                        limit.limit,
                        request.uri.path()
                    );
                    (axum::http::StatusCode::TOO_MANY_REQUESTS, body).into_response()
                })
            }),
    )
    .await;
    let layer = limiter.layer().build().unwrap();
    let server = serve(existing_app().route_layer(layer).with_state(1)).await;
    let headers = [("accept", "application/json"), ("x-request-id", "r-42")];
    assert_eq!(
        server.request(Method::GET, "/fast", &headers).await.status,
        200
    );
    let rejected = server.request(Method::GET, "/fast", &headers).await;
    assert_eq!(rejected.status, 429);
    assert_eq!(
        rejected.body,
        r#"{"error":"1 per 1 minute","path":"/fast","request":"r-42"}"#
    );
    // Another client's preference: the callback declines, Flask's page answers.
    let html = server.request(Method::GET, "/fast", &[]).await;
    assert_eq!(html.body, flask_429("1 per 1 minute"));
}
