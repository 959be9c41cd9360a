//! One app instance in lease mode, for `tests/lease.rs`: `GET /fast` → `42` under the default
//! limit `$LEASE_LIMIT`, keyed by peer address, on the Redis at `$LEASE_REDIS_URL` with key
//! prefix `$LEASE_PREFIX` and leases of at most `$LEASE_MAX_UNITS` units lasting
//! `$LEASE_MILLIS` ms, taking the next lease ahead unless `$LEASE_PREFETCH` is `false`; listens
//! on `127.0.0.1:$PORT`.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Strategy};
use limiter_core::storage::{LeaseConfig, RedisStorage};
use std::net::SocketAddr;
use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let lease = LeaseConfig::default()
        .max_units(env("LEASE_MAX_UNITS").parse().expect("a number of units"))
        .duration(Duration::from_millis(
            env("LEASE_MILLIS").parse().expect("milliseconds"),
        ))
        .prefetch(std::env::var("LEASE_PREFETCH").as_deref() != Ok("false"));
    let storage = RedisStorage::builder(env("LEASE_REDIS_URL"))
        .key_prefix(env("LEASE_PREFIX"))
        .lease(lease)
        .build()
        .await
        .expect("cannot connect to Redis");
    let limiter = Limiter::new(get_remote_address)
        .default_limits([env("LEASE_LIMIT")])
        .storage(storage)
        .strategy(Strategy::FixedWindow)
        .build()
        .await
        .expect("a valid limiter");
    let app = limiter_axum::Router::new()
        .route("/fast", get(|| async { "42" }))
        .with_limiter(&limiter)
        .expect("a valid router");
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{}", env("PORT"))).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
