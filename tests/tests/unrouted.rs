//! No silent no-op: a handler whose `#[limit]` no router of the limiter applies (routed with
//! `axum::routing::get` rather than the limiter's) is reported when the app starts.

use limiter_axum::{
    exempt, get_remote_address, limit, routing, BuildError, Limiter, Router, UnroutedHandlers,
};
use limiter_tests::serve;

#[limit("1 per day")]
async fn slow() -> &'static str {
    "24"
}

#[exempt]
async fn ping() -> &'static str {
    "PONG"
}

async fn fast() -> &'static str {
    "42"
}

/// The app an axum user writes first: the attribute on the handler, axum's own `get`.
fn plain_app() -> axum::Router {
    axum::Router::new()
        .route("/slow", axum::routing::get(slow))
        .route("/ping", axum::routing::get(ping))
}

const MESSAGE: &str = "handlers declare rate limits (#[limit], #[shared_limit] or #[exempt]) but \
     never went through the limiter: unrouted::ping (line 14), unrouted::slow (line 9). Route \
     them with limiter_axum::routing::get & co. (not axum::routing) in a limiter_axum::Router, \
     or declare their limits on the layer (Limiter::layer().limit(path, …)); to allow this, \
     build the limiter with .unrouted_handlers(UnroutedHandlers::Allow)";

/// One test, in order: the routed handlers are known to the whole process (and `cargo test`
/// runs tests on threads of one process).
#[tokio::test]
async fn reported_at_start_up_until_routed_through_the_limiter() {
    let limiter = Limiter::new(get_remote_address).build().await.unwrap();
    // The layer names each handler and the fix.
    let error = limiter.layer().build().unwrap_err();
    assert!(matches!(error, BuildError::UnroutedHandlers { .. }));
    assert_eq!(error.to_string(), MESSAGE);
    // So does a mirrored router that leaves them out.
    let mirrored: Router = Router::new().route("/fast", routing::get(fast));
    assert_eq!(
        mirrored.with_limiter(&limiter).unwrap_err().to_string(),
        MESSAGE
    );

    // Routed through the limiter, they are limited, and nothing is reported.
    let app = Router::new()
        .route("/slow", routing::get(slow))
        .route("/ping", routing::get(ping))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.statuses("/slow", 2).await, [200, 429]);
    assert!(limiter.layer().build().is_ok());
}

#[tokio::test]
async fn the_opt_out_serves_them_unlimited() {
    let limiter = Limiter::new(get_remote_address)
        .unrouted_handlers(UnroutedHandlers::Allow)
        .build()
        .await
        .unwrap();
    let layer = limiter.layer().build().unwrap();
    let server = serve(plain_app().route_layer(layer)).await;
    assert_eq!(server.statuses("/slow", 3).await, [200, 200, 200]);
}

#[tokio::test]
async fn a_warning_instead_of_the_error() {
    let limiter = Limiter::new(get_remote_address)
        .unrouted_handlers(UnroutedHandlers::Warn)
        .build()
        .await
        .unwrap();
    assert!(limiter.layer().build().is_ok());
}
