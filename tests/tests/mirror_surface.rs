//! The `Router` mirror's share of axum's surface, over real HTTP: plain `axum::Router`s nested
//! or merged (limited by the defaults, or explicitly unlimited and listed so), and services.

use axum::routing::get as axum_get;
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Router};
use limiter_tests::serve;

async fn ok() -> &'static str {
    "ok"
}

/// A router from another crate, as it is.
fn third_party() -> axum::Router<u8> {
    axum::Router::new()
        .route("/health", axum_get(ok))
        .route("/items/{id}", axum_get(|| async { "item" }))
}

async fn limiter() -> Limiter {
    Limiter::new(get_remote_address)
        .default_limits(["1 per minute"])
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_nested_plain_router_is_limited_by_the_defaults() {
    let limiter = limiter().await;
    let app = Router::new()
        .route("/fast", get(ok))
        .nest_axum("/vendor", third_party())
        .with_state(7)
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.statuses("/vendor/health", 2).await, [200, 429]);
    // Each of its routes apart, by pattern.
    assert_eq!(server.get("/vendor/items/1").await.status, 200);
    assert_eq!(server.get("/vendor/items/2").await.status, 429);
    assert_eq!(server.statuses("/fast", 2).await, [200, 429]);
    let routes = limiter.routes();
    let vendor = routes.iter().find(|r| r.path == "/vendor/*").unwrap();
    assert!(!vendor.opt_out);
    assert_eq!(vendor.limits[0].limit, "1 per 1 minute");
}

#[tokio::test]
async fn a_merged_plain_router_is_limited_too() {
    let limiter = limiter().await;
    let app = Router::new()
        .merge_axum(third_party())
        .with_state(7)
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.statuses("/health", 2).await, [200, 429]);
}

#[tokio::test]
async fn unlimited_plain_routers_and_services_are_listed_as_opt_outs() {
    let limiter = limiter().await;
    let app: axum::Router = Router::new()
        .nest_unlimited("/vendor", third_party().with_state(7))
        .route_service(
            "/svc",
            tower::service_fn(|_| async { Ok::<_, std::convert::Infallible>("svc") }),
        )
        .nest_service(
            "/files",
            tower::service_fn(|_| async { Ok::<_, std::convert::Infallible>("file") }),
        )
        .fallback_service(tower::service_fn(|_| async {
            Ok::<_, std::convert::Infallible>("fallback")
        }))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.statuses("/vendor/health", 3).await, [200; 3]);
    assert_eq!(server.get("/svc").await.body, "svc");
    assert_eq!(server.get("/files/a.txt").await.body, "file");
    assert_eq!(server.get("/nowhere").await.body, "fallback");
    let opt_outs: Vec<(String, bool)> = limiter
        .routes()
        .into_iter()
        .map(|route| (route.path, route.opt_out))
        .collect();
    assert_eq!(
        opt_outs,
        [
            ("/files/*".to_owned(), true),
            ("/svc".to_owned(), true),
            ("/vendor/*".to_owned(), true),
        ]
    );
}

#[tokio::test]
async fn a_plain_router_in_a_nested_blueprint_keeps_its_full_path() {
    let limiter = limiter().await;
    let api = Router::named("api").nest_axum("/vendor", third_party());
    let app = Router::new()
        .nest("/api", api)
        .with_state(7)
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.statuses("/api/vendor/health", 2).await, [200, 429]);
    assert!(limiter.routes().iter().any(|r| r.path == "/api/vendor/*"));
}
