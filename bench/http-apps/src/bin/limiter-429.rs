//! Our 429 path: `1 per day` on memory storage (fixed window), so every request after the
//! first (sent during the warm-up) is rejected.

use http_bench_apps::{limiter_app, serve};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = limiter_app(
        limiter_axum::Strategy::FixedWindow,
        &["1 per day"],
        "memory://",
    )
    .await;
    serve(app).await
}
