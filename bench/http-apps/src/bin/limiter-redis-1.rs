//! One limit per request on Redis (`$LIMITER_BENCH_REDIS_URL`), fixed window, never reached.
// The limiter's start-up future nests deeper than rustc's default layout query depth (128).
#![recursion_limit = "256"]

use http_bench_apps::{limiter_app, redis_url, serve};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let url = redis_url();
    let app = limiter_app(
        limiter_axum::Strategy::FixedWindow,
        &["1000000000 per minute"],
        &url,
    )
    .await;
    serve(app).await
}
