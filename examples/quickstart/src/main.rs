//! The Flask-Limiter quickstart, in axum: `/slow` 1 per day, `/fast` the default limits,
//! `/ping` exempt. Serves on port 5000, or on `$PORT` when it is set.

use limiter_axum::routing::get;
use limiter_axum::{exempt, get_remote_address, limit, Limiter, Router, Strategy};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

#[limit("1 per day")]
async fn slow() -> &'static str {
    "24"
}

async fn fast() -> &'static str {
    "42"
}

#[exempt]
async fn ping() -> &'static str {
    "PONG"
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
    let limiter = Limiter::new(get_remote_address)
        .default_limits(["2 per minute", "1 per second"])
        .storage_uri("memory://") // or redis://, redis+cluster://, memcached://, mongodb://
        .strategy(Strategy::FixedWindow) // MovingWindow, SlidingWindowCounter
        .build()
        .await?;

    let app = Router::new()
        .route("/slow", get(slow))
        .route("/fast", get(fast))
        .route("/ping", get(ping))
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
