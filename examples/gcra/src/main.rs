//! GCRA (the generic cell rate algorithm): `/api` allows `10 per second` as one request every
//! 100 ms, with a burst; `/smooth` the same rate with no burst at all. On memory storage, or on
//! the storage `RATELIMIT_STORAGE_URI` names (`redis://127.0.0.1:6379`, `memcached://…`).
//!
//! ```sh
//! cargo run -p gcra                                   # serves on 127.0.0.1:5000 (or $PORT)
//!
//! # A burst of 10 (the amount), then one every 100 ms (12 requests on one connection, so
//! # faster than that):
//! curl -s -o /dev/null -w '%{http_code} ' "localhost:5000/api?[1-12]"; echo
//! # 200 200 200 200 200 200 200 200 200 200 429 429
//!
//! # The headers: X-RateLimit-Remaining is how many more would pass now; X-RateLimit-Reset is
//! # when the bucket is full again, or on a 429 when the next request would pass
//! # (Retry-After: about 100 ms, so 1).
//! curl -i localhost:5000/api
//!
//! # A burst of 1 on /smooth (4 per second): a request 250 ms after the last one passes,
//! # closer ones do not.
//! curl -s -o /dev/null -w '%{http_code} ' "localhost:5000/smooth?[1-2]"; echo   # 200 429
//!
//! # The burst of every limit from the environment (where not set in code):
//! RATELIMIT_GCRA_BURST=3 cargo run -p gcra
//! ```

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, limit, Limiter, Router, Strategy};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

/// 10 per second: one every 100 ms, up to 10 at once after a pause.
#[limit("10 per second")]
async fn api() -> &'static str {
    "api\n"
}

async fn smooth() -> &'static str {
    "smooth\n"
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
    // The strategy for the whole limiter; `Strategy::Gcra { burst: NonZeroU64::new(n) }` sets the
    // burst of every limit in code instead.
    let limiter = Limiter::new(get_remote_address)
        .strategy(Strategy::GCRA)
        .headers_enabled(true)
        .from_env()?
        .build()
        .await?;
    // A second limiter for /smooth: same rate style, burst 1 (every request spaced).
    let smooth_limiter = Limiter::new(get_remote_address)
        .strategy(Strategy::Gcra {
            burst: std::num::NonZeroU64::new(1),
        })
        .headers_enabled(true)
        .key_prefix("smooth")
        .build()
        .await?;

    let app = Router::new()
        .route("/api", get(api))
        .with_limiter(&limiter)?
        .merge(
            Router::new()
                .route("/smooth", get(smooth).limit("4 per second"))
                .with_limiter(&smooth_limiter)?,
        );

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
