//! Named routers (blueprints): router limits, nested inheritance as Flask-Limiter's code does it
//! (behaviour §4.6, not its docs), and `ExemptionScope` flags.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, ExemptionScope, Limit, Limiter, Router};
use limiter_tests::{flask_429, serve};

async fn handler() -> &'static str {
    "ok"
}

async fn childb() -> &'static str {
    "child"
}

async fn grand() -> &'static str {
    "grand"
}

async fn health() -> &'static str {
    "healthy"
}

#[tokio::test]
async fn nested_blueprints_follow_the_code_not_the_docs() {
    let limiter = limiter_tests::build_limiter(
        Limiter::new(get_remote_address)
            .default_limits(["100 per hour"])
            .application_limits(["1000 per day"]),
        module_path!(),
    )
    .await;
    let grandchild = Router::named("grandchild")
        .route("/g", get(grand))
        .limit("10 per minute");
    let child = Router::named("child")
        .route("/b", get(childb))
        .limit_with(Limit::new("1 per second").override_defaults(false))
        .nest("/grand", grandchild);
    let parent = Router::named("parent")
        .route("/a", get(handler))
        .limit("2 per minute")
        .nest("/child", child);
    let health_bp = Router::named("health")
        .route("/", get(health))
        .limit("1 per minute")
        .exempt_with(
            ExemptionScope::DEFAULT | ExemptionScope::APPLICATION | ExemptionScope::ANCESTORS,
        );
    let app = Router::new()
        .route("/fast", get(handler))
        .nest("/parent", parent.nest("/health", health_bp))
        .with_limiter(&limiter)
        .unwrap();

    let routes = limiter.routes();
    let find = |path: &str| routes.iter().find(|r| r.path == path).unwrap().clone();
    let limits =
        |path: &str| -> Vec<String> { find(path).limits.iter().map(|l| l.limit.clone()).collect() };
    assert_eq!(limits("/fast"), ["100 per 1 hour"]);
    assert_eq!(limits("/parent/a"), ["2 per 1 minute"]);
    // Child: its own 1/second plus the inherited 2/minute; the inherited limit overrides the
    // defaults, so 100/hour does not apply (the docs claim it does; the code says no).
    // Inherited limits come outermost first (Flask's order is a set's, i.e. unspecified).
    assert_eq!(
        limits("/parent/child/b"),
        ["2 per 1 minute", "1 per 1 second"]
    );
    assert_eq!(limits("/parent/child/grand/g"), ["10 per 1 minute"]);
    // Exempt with ANCESTORS and its own limit: own limits only.
    assert_eq!(limits("/parent/health"), ["1 per 1 minute"]);
    let child_route = find("/parent/child/b");
    assert_eq!(child_route.endpoint, "parent.child.childb");
    assert_eq!(child_route.blueprint.as_deref(), Some("parent.child"));

    let server = serve(app).await;
    assert_eq!(server.get("/parent/child/b").await.status, 200);
    let reply = server.get("/parent/child/b").await;
    assert_eq!(reply.body, flask_429("1 per 1 second"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(server.get("/parent/child/b").await.status, 200);
    // The parent's 2/minute counts per endpoint: /parent/a has its own counter.
    assert_eq!(server.statuses("/parent/a", 3).await, [200, 200, 429]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        server.get("/parent/child/b").await.body,
        flask_429("2 per 1 minute")
    );
    assert_eq!(server.statuses("/parent/health", 2).await, [200, 429]);
}

#[tokio::test]
async fn exempt_blueprints_and_descendents() {
    let limiter = limiter_tests::build_limiter(
        Limiter::new(get_remote_address).default_limits(["1 per minute"]),
        module_path!(),
    )
    .await;
    // Default flags include META: no blueprint limits, no defaults.
    let open = Router::named("open")
        .route("/x", get(handler))
        .limit("1 per day")
        .exempt();
    // Not inherited without DESCENDENTS: the nested router gets the defaults.
    let plain_child = Router::named("kid").route("/y", get(handler));
    let parent = Router::named("parent")
        .exempt_with(ExemptionScope::DEFAULT)
        .route("/p", get(handler))
        .nest("/kid", plain_child);
    let passes_down = Router::named("down")
        .exempt_with(ExemptionScope::DEFAULT | ExemptionScope::DESCENDENTS)
        .nest("/kid", Router::named("kid").route("/z", get(handler)));
    let app = Router::new()
        .nest("/open", open)
        .nest("/parent", parent)
        .nest("/down", passes_down)
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.statuses("/open/x", 3).await, [200, 200, 200]);
    assert_eq!(server.statuses("/parent/p", 3).await, [200, 200, 200]);
    assert_eq!(server.statuses("/parent/kid/y", 2).await, [200, 429]);
    assert_eq!(server.statuses("/down/kid/z", 3).await, [200, 200, 200]);
    let routes = limiter.routes();
    let open = routes.iter().find(|r| r.path == "/open/x").unwrap();
    assert!(open.exempt);
    assert_eq!(open.endpoint, "open.handler");
}
