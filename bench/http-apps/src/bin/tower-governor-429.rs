//! tower_governor's 429 path: a burst of 1 replenished once a day, so every request after the
//! first (sent during the warm-up) is rejected.

use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::GovernorLayer;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = GovernorConfigBuilder::default()
        .per_second(86_400)
        .burst_size(1)
        .finish()
        .expect("a valid quota");
    let app = axum::Router::new()
        .route("/fast", axum::routing::get(http_bench_apps::fast))
        .layer(GovernorLayer::new(config));
    http_bench_apps::serve(app).await
}
