//! Shared pieces of the HTTP benchmark apps: every app serves `GET /fast` → `42` on
//! `127.0.0.1:$PORT` (default 8000) with the peer address known (`ConnectInfo<SocketAddr>`), on
//! tokio's default multi-threaded runtime.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Strategy};
use std::net::SocketAddr;

/// Limits so high that no request of a benchmark run is ever rejected.
pub const NEVER_REACHED: [&str; 2] = ["1000000000 per minute", "1000000000 per second"];

/// The handler of every app.
pub async fn fast() -> &'static str {
    "42"
}

/// `/fast` behind tower_governor keyed by peer IP: a burst of `burst`, one cell replenished
/// every `period`.
pub fn tower_governor_app(period: std::time::Duration, burst: u32) -> axum::Router {
    let config = tower_governor::governor::GovernorConfigBuilder::default()
        .period(period)
        .burst_size(burst)
        .finish()
        .expect("a valid quota");
    axum::Router::new()
        .route("/fast", axum::routing::get(fast))
        .layer(tower_governor::GovernorLayer::new(config))
}

/// Serves `app` on `127.0.0.1:$PORT` until the process is killed.
pub async fn serve(app: axum::Router) -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The quickstart shape: `/fast` under the default limits `limits`, keyed by peer IP, on the
/// storage `uri` with `strategy`.
///
/// Exits with status 3 (the runner skips the app) when the storage backend is not built in.
pub async fn limiter_app(strategy: Strategy, limits: &[&str], uri: &str) -> axum::Router {
    let built = Limiter::new(get_remote_address)
        .default_limits(limits.iter().map(|limit| limit.to_string()))
        .storage_uri(uri)
        .strategy(strategy)
        .build()
        .await;
    limiter_router(built)
}

/// `/fast` under the limiter `built`, as [`limiter_app`] serves it, for apps that configure the
/// limiter themselves (e.g. with a ready storage).
///
/// Exits with status 3 (the runner skips the app) when the storage backend is not built in.
pub fn limiter_router(built: Result<Limiter, limiter_axum::BuildError>) -> axum::Router {
    let limiter = match built {
        Ok(limiter) => limiter,
        Err(limiter_axum::BuildError::Storage(
            error @ limiter_core::StorageError::NotBuilt { .. },
        )) => {
            eprintln!("skipped: {error}");
            std::process::exit(3);
        }
        Err(error) => panic!("cannot build the limiter: {error}"),
    };
    limiter_axum::Router::new()
        .route("/fast", get(fast))
        .with_limiter(&limiter)
        .expect("a valid router")
}

/// The Redis URL of the Redis apps, from `$LIMITER_BENCH_REDIS_URL`; exits with status 3 (the
/// runner skips the app) when it is unset.
pub fn redis_url() -> String {
    match std::env::var("LIMITER_BENCH_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped: LIMITER_BENCH_REDIS_URL is not set");
            std::process::exit(3);
        }
    }
}
