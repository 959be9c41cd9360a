//! Three limits per request on Redis Cluster (`$LIMITER_BENCH_REDIS_CLUSTER_URL`, a
//! `redis+cluster://` URI), fixed window, never reached: one call per slot.

use http_bench_apps::{limiter_app, serve};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let url = match std::env::var("LIMITER_BENCH_REDIS_CLUSTER_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped: LIMITER_BENCH_REDIS_CLUSTER_URL is not set");
            std::process::exit(3);
        }
    };
    let limits = [
        "1000000000 per second",
        "1000000000 per minute",
        "1000000000 per hour",
    ];
    let app = limiter_app(limiter_axum::Strategy::FixedWindow, &limits, &url).await;
    serve(app).await
}
