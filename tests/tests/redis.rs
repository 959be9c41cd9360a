//! The behavioural suite against real Redis servers: standalone, cluster and sentinel.
//!
//! URLs come from `LIMITER_TEST_REDIS_URL`, `LIMITER_TEST_REDIS_CLUSTER_URL` and
//! `LIMITER_TEST_REDIS_SENTINEL_URL` (see `limiter_tests::server_env` for the skip rule).

use limiter_core::Storage;

async fn open(variable: &str) -> Option<Storage> {
    let url = limiter_tests::server_env(variable, "redis suite")?;
    Some(
        Storage::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("connect to {variable}: {error}")),
    )
}

macro_rules! redis_backend {
    ($module:ident, $variable:literal) => {
        mod $module {
            use limiter_core::Storage;

            async fn open() -> Option<Storage> {
                super::open($variable).await
            }

            limiter_tests::storage_suite!(open);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sliding_window_first_hit_anchored() {
                if let Some(storage) = open().await {
                    limiter_tests::suite::sliding_window_first_hit_anchored(storage).await;
                }
            }
        }
    };
}

redis_backend!(standalone, "LIMITER_TEST_REDIS_URL");
redis_backend!(cluster, "LIMITER_TEST_REDIS_CLUSTER_URL");
redis_backend!(sentinel, "LIMITER_TEST_REDIS_SENTINEL_URL");
