//! Shadow (dry-run) mode: `/search` is limited to 100 requests per hour, and a stricter
//! 3 per minute is being rolled out in shadow mode. Both are counted and reported in the
//! headers, but only the hourly one refuses; a breach of the shadow limit lets the request
//! through and logs a warning. `RATELIMIT_SHADOW_MODE=true` puts every limit in shadow mode.
//!
//! ```sh
//! cargo run -p shadow-mode                    # serves on 127.0.0.1:5000 (or $PORT)
//! curl -i localhost:5000/search               # 200, X-RateLimit-Limit: 3, Remaining: 2
//! curl -i localhost:5000/search               # 200, Remaining: 1
//! curl -i localhost:5000/search               # 200, Remaining: 0
//! curl -i localhost:5000/search               # 200 still, Remaining: 0; the server logs
//!                                             # WARN … rate limit exceeded in shadow mode …
//!                                             #   limit=3 per 1 minute endpoint=search
//! RATELIMIT_SHADOW_MODE=true cargo run -p shadow-mode
//! for i in $(seq 5); do curl -s -o /dev/null -w '%{http_code}\n' localhost:5000/export; done
//!                                             # 200 five times: the enforced 2 per hour too
//!                                             # is only logged in global shadow mode
//! ```

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, limit, Limit, Limiter, Router};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

/// Enforced: 100 per hour. Being rolled out: 3 per minute.
#[limit("100 per hour")]
#[limit("3 per minute", shadow)]
async fn search() -> &'static str {
    "results\n"
}

async fn export() -> &'static str {
    "csv\n"
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
        .headers_enabled(true)
        .from_env()?
        .build()
        .await?;
    let app = Router::new()
        .route("/search", get(search))
        // In code: the same option on a `Limit`; this one is enforced unless the whole limiter
        // is in shadow mode.
        .route("/export", get(export).limit_with(Limit::new("2 per hour")))
        .route(
            "/beta",
            get(export).limit_with(Limit::new("1 per minute").shadow()),
        )
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
