//! The limiter's metrics (the `metrics` feature of limiter-axum) served to Prometheus: requests
//! allowed and limited by endpoint and limit, storage errors and durations, the fallback state.
//! Any exporter of the [`metrics`](https://docs.rs/metrics) facade works; this one is
//! metrics-exporter-prometheus, rendered at `/metrics` (a route the limiter does not check).
//!
//! ```sh
//! cargo run -p metrics-example                # serves on 127.0.0.1:5000 (or $PORT)
//! curl -i localhost:5000/hello                # 200
//! curl -i localhost:5000/hello                # 200
//! curl -i localhost:5000/hello                # 429
//! curl -s localhost:5000/metrics              # limiter_requests_allowed_total{endpoint="hello"} 2
//!                                             # limiter_requests_limited_total{endpoint="hello",scope="hello",limit="2 per 1 minute"} 1
//!                                             # limiter_storage_duration_seconds{endpoint="hello",storage="memory",fallback="false",quantile="0.5"} …
//! ```
//!
//! `RUST_LOG`-style debug spans (`rate_limit_decision`) come with the same feature, for any
//! `tracing` subscriber the application installs.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Router};
use metrics_exporter_prometheus::PrometheusBuilder;
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

async fn hello() -> &'static str {
    "hello\n"
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
    // The recorder first: the limiter registers its metrics with the recorder installed when
    // each is first used.
    let registry = PrometheusBuilder::new().install_recorder()?;
    let limiter = Limiter::new(get_remote_address)
        .default_limits(["2 per minute", "100 per day"])
        .headers_enabled(true)
        .from_env()?
        .build()
        .await?;
    let app = Router::new()
        .route("/hello", get(hello))
        .route_unlimited(
            "/metrics",
            axum::routing::get(move || std::future::ready(registry.render())),
        )
        .with_limiter(&limiter)?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("serving on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
