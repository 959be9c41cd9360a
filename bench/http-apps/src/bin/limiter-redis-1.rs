//! One limit per request on Redis (`$LIMITER_BENCH_REDIS_URL`), fixed window, never reached.

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
