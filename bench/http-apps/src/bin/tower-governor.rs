//! tower_governor (governor's GCRA keyed by peer IP) with a quota equivalent to ours and never
//! reached: a burst of 10⁹, one cell replenished every nanosecond (10⁹ per second).

use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::GovernorLayer;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000_000)
        .finish()
        .expect("a valid quota");
    let app = axum::Router::new()
        .route("/fast", axum::routing::get(http_bench_apps::fast))
        .layer(GovernorLayer::new(config));
    http_bench_apps::serve(app).await
}
