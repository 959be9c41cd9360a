//! Dynamic limits: each user's limit depends on their tier, read from the request (Flask's
//! callable `limit_value`), and is counted per user rather than per IP address.
//!
//! ```sh
//! cargo run -p dynamic-limits                 # serves on 127.0.0.1:5000 (or $PORT)
//! curl -H 'x-user: ann' -H 'x-tier: gold' localhost:5000/api   # 5 per minute for ann
//! curl -H 'x-user: bob' localhost:5000/api                     # 2 per minute for bob
//! ```
//!
//! Repeat each curl: bob gets a 429 on his third request, ann on her sixth.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, key_fn, Limit, Limiter, Request, Router};
use std::borrow::Cow;
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn api() -> &'static str {
    "ok\n"
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
    let limiter = Limiter::new(get_remote_address).build().await?;
    let per_tier = Limit::dynamic(|request| match header(request, "x-tier") {
        Some("gold") => Cow::Borrowed("5 per minute"),
        _ => Cow::Borrowed("2 per minute"),
    })
    .key_func(key_fn(|request| {
        Cow::Borrowed(header(request, "x-user").unwrap_or("anonymous"))
    }));
    let app = Router::new()
        .route("/api", get(api).limit_with(per_tier))
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
