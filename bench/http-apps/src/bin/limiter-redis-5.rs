//! Five limits per request on Redis (`$LIMITER_BENCH_REDIS_URL`), fixed window, never reached.

use http_bench_apps::{limiter_app, redis_url, serve};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let url = redis_url();
    let limits = [
        "1000000000 per second",
        "1000000000 per minute",
        "1000000000 per hour",
        "1000000000 per day",
        "1000000000 per month",
    ];
    let app = limiter_app(limiter_axum::Strategy::FixedWindow, &limits, &url).await;
    serve(app).await
}
