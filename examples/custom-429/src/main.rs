//! A custom 429: an `on_breach` callback answers rejected requests with JSON instead of
//! Flask's HTML page, naming the breached limit and when it resets.
//!
//! ```sh
//! cargo run -p custom-429                     # serves on 127.0.0.1:5000 (or $PORT)
//! curl -i localhost:5000/hello                # 200
//! curl -i localhost:5000/hello                # 200
//! curl -i localhost:5000/hello                # 429 {"error":"rate limited","limit":"2 per 1 minute",...}
//! ```

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, RequestLimit, Response, Router};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

async fn hello() -> &'static str {
    "hello\n"
}

/// Every breach of every limit of this limiter comes here; `None` keeps the default page.
fn json_429(limit: &RequestLimit) -> Option<Response> {
    let body = format!(
        "{{\"error\":\"rate limited\",\"limit\":\"{}\",\"remaining\":{},\"reset_at\":{}}}\n",
        limit.limit, limit.remaining, limit.reset_at
    );
    let headers = [(header::CONTENT_TYPE, "application/json")];
    Some((StatusCode::TOO_MANY_REQUESTS, headers, body).into_response())
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
        .default_limits(["2 per minute"])
        .on_breach(json_429)
        .build()
        .await?;
    let app = Router::new()
        .route("/hello", get(hello))
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
