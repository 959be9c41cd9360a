//! Our 429 path on Redis (`$LIMITER_BENCH_REDIS_URL`) with the over-limit cache on: `1 per day`,
//! fixed window, so every request after the first (sent during the warm-up) is rejected, and
//! after the first rejection answered from the process's cache without a round trip.

use http_bench_apps::{limiter_router, redis_url, serve};
use limiter_axum::{get_remote_address, Limiter, Strategy};
use limiter_core::storage::redis::RedisStorage;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let url = redis_url();
    let storage = RedisStorage::builder(url)
        .over_limit_cache(true)
        .build()
        .await
        .expect("cannot connect to Redis");
    let built = Limiter::new(get_remote_address)
        .default_limits(["1 per day"])
        .storage(storage)
        .strategy(Strategy::FixedWindow)
        .build()
        .await;
    serve(limiter_router(built)).await
}
