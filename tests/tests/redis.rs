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

/// `reset` SCANs and unlinks the keys of its own prefix only (each test uses a prefix of its own,
/// so it runs alongside the others), on every node of a cluster.
async fn reset_removes_only_its_prefix(url: &str) {
    use limiter_core::{RedisStorage, Strategy};
    let open = |prefix: String| async move {
        Storage::from(
            RedisStorage::builder(url)
                .key_prefix(prefix)
                .build()
                .await
                .expect("connect"),
        )
    };
    let mine = open(limiter_tests::suite::unique_id("RESET")).await;
    let other = open(limiter_tests::suite::unique_id("KEEP")).await;
    let limit = limiter_tests::suite::per_seconds(5, 60);
    let clients = 50;
    for strategy in Strategy::ALL {
        for client in 0..clients {
            let id = format!("{strategy}-{client}");
            for storage in [&mine, &other] {
                limiter_tests::suite::hit(storage, strategy, &limit, &id, 1).await;
            }
        }
    }
    // One key per strategy and client (the sliding window's previous bucket does not exist yet).
    let removed = mine.reset().await.expect("reset");
    assert_eq!(
        removed,
        Some(Strategy::ALL.len() as u64 * clients),
        "keys removed"
    );
    for strategy in Strategy::ALL {
        let id = format!("{strategy}-0");
        let mine = mine
            .window_stats(strategy, &limit, &[&id])
            .await
            .expect("stats");
        let other = other
            .window_stats(strategy, &limit, &[&id])
            .await
            .expect("stats");
        assert_eq!(mine.remaining, 5, "{strategy}: reset");
        assert!(
            other.remaining < 5,
            "{strategy}: another prefix is untouched"
        );
    }
    other.reset().await.expect("reset");
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
            async fn reset_removes_only_its_prefix() {
                if let Some(url) = limiter_tests::server_env($variable, "redis reset") {
                    super::reset_removes_only_its_prefix(&url).await;
                }
            }

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

/// Connecting to nothing fails at start-up with a typed error, within the timeout, over TLS too
/// (TLS against a real server: `redis_tls.rs`). No server needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_unsupported_is_a_typed_error_at_connect() {
    use limiter_core::{RedisStorage, StorageError};
    use std::time::{Duration, Instant};
    let timeout = Duration::from_millis(300);
    for url in [
        "redis://127.0.0.1:1",
        "rediss://127.0.0.1:1",
        // Not routable: nothing answers, so only the timeout ends the attempt.
        "redis://10.255.255.1:6379",
        "redis+sentinel://127.0.0.1:1/mymaster",
    ] {
        let started = Instant::now();
        let error = RedisStorage::builder(url)
            .timeout(timeout)
            .build()
            .await
            .expect_err(url);
        let elapsed = started.elapsed();
        assert!(
            matches!(
                error,
                StorageError::Backend { .. }
                    | StorageError::Timeout { .. }
                    | StorageError::Connect { .. }
            ),
            "{url}: {error:?}"
        );
        assert!(
            elapsed < timeout + Duration::from_millis(300),
            "{url}: {elapsed:?}"
        );
        println!("{url}: {error} after {elapsed:?}");
    }
}
