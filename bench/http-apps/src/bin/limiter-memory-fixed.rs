//! Our quickstart shape on memory storage, FixedWindow strategy, two default limits never reached.
// The limiter's start-up future nests deeper than rustc's default layout query depth (128).
#![recursion_limit = "256"]

use http_bench_apps::{limiter_app, serve, NEVER_REACHED};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = limiter_app(
        limiter_axum::Strategy::FixedWindow,
        &NEVER_REACHED,
        "memory://",
    )
    .await;
    serve(app).await
}
