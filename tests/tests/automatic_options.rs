//! Flask's automatic `OPTIONS` answers (issue 11 difference 5) over real HTTP: a route without an
//! `OPTIONS` handler answers it with `200` and `Allow`, charged only to what Flask-Limiter's
//! `before_request` charges (application limits; blueprint and default limits of a route
//! without limits of its own), never to the route's own limits; a CORS preflight is such a
//! request. The behaviour is in the router, not the storage, so memory storage is enough.

use axum::http::Method;
use limiter_axum::routing::{get, post};
use limiter_axum::{get_remote_address, limit, Limiter, LimiterBuilder, Router, UnroutedHandlers};
use limiter_tests::{serve, Reply, Server};

async fn ok() -> &'static str {
    "ok"
}

#[limit("2 per minute")]
async fn decorated() -> &'static str {
    "decorated"
}

async fn app(builder: LimiterBuilder, router: Router) -> (Limiter, Server) {
    // This binary declares a handler that some tests do not route.
    let limiter = builder
        .headers_enabled(true)
        .unrouted_handlers(UnroutedHandlers::Allow)
        .build()
        .await
        .unwrap();
    let app = router.with_limiter(&limiter).unwrap();
    (limiter, serve(app).await)
}

async fn options(server: &Server, path: &str) -> Reply {
    server.request(Method::OPTIONS, path, &[]).await
}

/// The methods of an `Allow` header, sorted.
fn allowed(reply: &Reply) -> Vec<String> {
    let mut methods: Vec<String> = reply
        .header("allow")
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    methods.sort();
    methods
}

#[tokio::test]
async fn preflights_never_consume_a_routes_own_limits() {
    let (_, server) = app(
        Limiter::new(get_remote_address).default_limits(["1 per minute"]),
        Router::new().route("/decorated", get(decorated)),
    )
    .await;
    for _ in 0..5 {
        let reply = options(&server, "/decorated").await;
        assert_eq!(reply.status, 200);
        assert_eq!(allowed(&reply), ["GET", "HEAD", "OPTIONS"]);
        assert_eq!(reply.body, "");
        // No limit applies to it: neither the route's own nor (decorated route) the defaults.
        assert_eq!(reply.header("x-ratelimit-limit"), None);
    }
    assert_eq!(server.statuses("/decorated", 3).await, [200, 200, 429]);
}

#[tokio::test]
async fn default_limits_of_an_undecorated_route_count_preflights() {
    let (_, server) = app(
        Limiter::new(get_remote_address).default_limits(["2 per minute"]),
        Router::new().route("/undecorated", get(ok).post(ok)),
    )
    .await;
    let first = options(&server, "/undecorated").await;
    assert_eq!(first.status, 200);
    assert_eq!(allowed(&first), ["GET", "HEAD", "OPTIONS", "POST"]);
    assert_eq!(first.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(options(&server, "/undecorated").await.status, 200);
    let refused = options(&server, "/undecorated").await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("allow"),
        None,
        "Flask's OPTIONS 429 has no Allow"
    );
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    // The same counter as the route's GET (one endpoint, as in Flask).
    assert_eq!(server.get("/undecorated").await.status, 429);
}

#[tokio::test]
async fn application_limits_count_preflights_on_every_route() {
    let (_, server) = app(
        Limiter::new(get_remote_address).application_limits(["3 per minute"]),
        Router::new().route("/decorated", get(decorated)),
    )
    .await;
    let reply = options(&server, "/decorated").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(options(&server, "/decorated").await.status, 200);
    assert_eq!(server.statuses("/decorated", 2).await, [200, 429]);
}

#[tokio::test]
async fn blueprint_limits_count_preflights_of_undecorated_routes_only() {
    let blueprint = Router::named("bp")
        .limit("1 per minute")
        .route("/plain", get(ok))
        .route("/decorated", get(decorated));
    let (_, server) = app(
        Limiter::new(get_remote_address),
        Router::new().nest("/bp", blueprint),
    )
    .await;
    assert_eq!(options(&server, "/bp/plain").await.status, 200);
    assert_eq!(options(&server, "/bp/plain").await.status, 429);
    assert_eq!(server.get("/bp/plain").await.status, 429);
    for _ in 0..3 {
        assert_eq!(options(&server, "/bp/decorated").await.status, 200);
    }
    // The decorated route keeps its own limit (which overrides the blueprint's), untouched by
    // the preflights.
    assert_eq!(server.statuses("/bp/decorated", 3).await, [200, 200, 429]);
}

#[tokio::test]
async fn cors_preflight_is_answered_without_charging_the_route() {
    let (_, server) = app(
        Limiter::new(get_remote_address),
        Router::new().route("/api", post(ok).limit("1 per minute")),
    )
    .await;
    let preflight = [
        ("origin", "https://example.com"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    for _ in 0..10 {
        let reply = server.request(Method::OPTIONS, "/api", &preflight).await;
        assert_eq!(reply.status, 200);
        assert_eq!(allowed(&reply), ["OPTIONS", "POST"]);
    }
    let post_once = || server.request(Method::POST, "/api", &[("origin", "https://example.com")]);
    assert_eq!(post_once().await.status, 200);
    assert_eq!(post_once().await.status, 429);
}

#[tokio::test]
async fn a_routes_own_options_handler_is_kept_and_limited() {
    async fn own() -> &'static str {
        "own"
    }
    let (_, server) = app(
        Limiter::new(get_remote_address),
        Router::new().route("/own", get(ok).options(own).limit("1 per minute")),
    )
    .await;
    let reply = options(&server, "/own").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "own"));
    assert_eq!(options(&server, "/own").await.status, 429);
    assert_eq!(server.get("/own").await.status, 200);
}

#[tokio::test]
async fn automatic_options_can_be_turned_off() {
    let (_, server) = app(
        Limiter::new(get_remote_address).default_limits(["1 per minute"]),
        Router::new()
            .route("/on", get(ok).name("on"))
            .automatic_options(false)
            .route("/off", get(ok).name("off")),
    )
    .await;
    assert_eq!(options(&server, "/on").await.status, 200);
    let off = options(&server, "/off").await;
    assert_eq!(off.status, 405);
    // A 405 is never charged, as in Flask.
    assert_eq!(server.get("/off").await.status, 200);
}

#[tokio::test]
async fn automatic_answers_are_not_listed_and_a_path_gets_one() {
    let (limiter, server) = app(
        Limiter::new(get_remote_address),
        Router::new()
            .route("/split", get(ok))
            .route("/split", post(ok)),
    )
    .await;
    assert_eq!(limiter.routes().len(), 2);
    assert!(limiter
        .routes()
        .iter()
        .all(|route| !route.methods.iter().any(|m| m == "OPTIONS")));
    let reply = options(&server, "/split").await;
    assert_eq!(reply.status, 200);
    assert_eq!(allowed(&reply), ["GET", "HEAD", "OPTIONS"]);
}
