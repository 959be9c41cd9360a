//! Our 429 path: `1 per day` on memory storage (fixed window), so every request after the
//! first (sent during the warm-up) is rejected.
// The limiter's start-up future nests deeper than rustc's default layout query depth (128).
#![recursion_limit = "256"]

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
