//! Our quickstart shape on memory storage, MovingWindow strategy, two default limits never reached.

use http_bench_apps::{limiter_app, serve, NEVER_REACHED};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = limiter_app(
        limiter_axum::Strategy::MovingWindow,
        &NEVER_REACHED,
        "memory://",
    )
    .await;
    serve(app).await
}
