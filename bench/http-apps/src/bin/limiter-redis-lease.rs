//! One limit per request on Redis (`$LIMITER_BENCH_REDIS_URL`), fixed window, never reached, in
//! lease mode with the default lease (a tenth of what remains, at most 100 units, 1 s).

use http_bench_apps::{limiter_router, redis_url, serve};
use limiter_axum::{get_remote_address, Limiter, Strategy};
use limiter_core::storage::{LeaseConfig, RedisStorage};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let storage = RedisStorage::builder(redis_url())
        .lease(LeaseConfig::default())
        .build()
        .await
        .expect("cannot connect to Redis");
    let built = Limiter::new(get_remote_address)
        .default_limits(["1000000000 per minute"])
        .storage(storage)
        .strategy(Strategy::FixedWindow)
        .build()
        .await;
    serve(limiter_router(built)).await
}
