//! Counters in Redis, shared by every instance of the app: `REDIS_URL` (default
//! `redis://127.0.0.1:6379`). The limiter connects when it is built, so an unreachable server
//! stops the app at start-up with a clear error instead of failing requests later.
//!
//! ```sh
//! docker run --rm -p 6379:6379 redis:7        # or any Redis/Valkey
//! cargo run -p redis-storage                  # serves on 127.0.0.1:5000 (or $PORT)
//! curl localhost:5000/count                   # 200 three times a minute, then 429
//! redis-cli keys 'LIMITS:*'                   # the counters live in Redis
//! PORT=5001 cargo run -p redis-storage        # a second instance shares the same counters
//! ```

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Router, Strategy};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

async fn count() -> &'static str {
    "counted in redis\n"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs on stderr, `RUST_LOG` to filter (default `info`): storage failures, the circuit
    // breaker's transitions, shadow breaches; `RUST_LOG=limiter_axum=debug` shows each decision.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    // What is printed: the URI with its password (if any) masked.
    let shown = limiter_core::uri::masked(&url);
    let built = Limiter::new(get_remote_address)
        .default_limits(["3 per minute"])
        .storage_uri(url.as_str())
        .strategy(Strategy::SlidingWindowCounter)
        .build()
        .await;
    let limiter = built.unwrap_or_else(|error| {
        eprintln!("error: cannot use Redis at {shown} (set REDIS_URL): {error}");
        std::process::exit(1)
    });
    let app = Router::new()
        .route("/count", get(count))
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "listening on http://{}, counting in {shown}",
        listener.local_addr()?
    );
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
