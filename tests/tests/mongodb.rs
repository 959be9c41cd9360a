//! The MongoDB backend: the shared behavioural suite against a real server, and its failure
//! modes without one.
//!
//! No MongoDB server can run on our machines (see `shared/reference/test-servers.md`), so the
//! suite runs only when `LIMITER_TEST_MONGODB_URL` names one (e.g. `mongodb://127.0.0.1:27017`,
//! MongoDB 4.4 or later); otherwise each test prints `SKIPPED: …` and passes — also under
//! `LIMITER_TEST_SERVERS=1`, since the test command cannot start a MongoDB. The exact documents
//! the backend sends are unit-tested in `limiter-core` (`storage::mongodb::tests`).
//!
//! Built only with the `mongodb` feature: `cargo test -p limiter-tests --features mongodb`
//! (or `--all-features`).
#![cfg(feature = "mongodb")]

use limiter_core::{ConnectFailure, Storage, StorageError};
use std::time::{Duration, Instant};

/// The variable that names a MongoDB server for these tests.
const URL_VARIABLE: &str = "LIMITER_TEST_MONGODB_URL";

async fn open() -> Option<Storage> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(
            Storage::connect(&url)
                .await
                .unwrap_or_else(|error| panic!("connect to {URL_VARIABLE}: {error}")),
        ),
        _ => {
            let also = if limiter_tests::servers_required() {
                " (LIMITER_TEST_SERVERS=1 does not start one: no MongoDB can be installed here)"
            } else {
                ""
            };
            println!(
                "SKIPPED: no MongoDB server can run on this machine (see \
                 shared/reference/test-servers.md); set {URL_VARIABLE} to run{also}"
            );
            None
        }
    }
}

// GCRA is not written for MongoDB yet (the storage refuses it).
limiter_tests::storage_suite!(@windows open);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_window_first_hit_anchored() {
    if let Some(storage) = open().await {
        limiter_tests::suite::sliding_window_first_hit_anchored(storage).await;
    }
}

/// `reset` removes every document and reports how many; limits work again afterwards (the TTL
/// indexes are created again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_counts_and_drops() {
    let Some(storage) = open().await else { return };
    let limit = limiter_tests::suite::per_seconds(1, 10);
    let id = limiter_tests::suite::unique_id("mongodb-reset");
    for strategy in [
        limiter_core::Strategy::FixedWindow,
        limiter_core::Strategy::MovingWindow,
    ] {
        assert!(
            limiter_tests::suite::hit(&storage, strategy, &limit, &id, 1)
                .await
                .allowed
        );
    }
    let removed = storage.reset().await.expect("reset");
    assert!(removed.is_some_and(|removed| removed >= 2), "{removed:?}");
    assert!(storage.check().await);
    assert!(
        limiter_tests::suite::hit(
            &storage,
            limiter_core::Strategy::FixedWindow,
            &limit,
            &id,
            1
        )
        .await
        .allowed
    );
}

/// Nothing listens on port 1: `connect` fails with a typed error naming the cause (refused),
/// without panicking or hanging. Needs no server, so it always runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_nothing_fails_in_time() {
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        Storage::connect("mongodb://127.0.0.1:1/?directConnection=true"),
    )
    .await
    .expect("connect must give up by itself");
    let error = outcome.expect_err("nothing listens on port 1");
    assert!(
        matches!(
            error,
            StorageError::Connect {
                backend: "mongodb",
                cause: ConnectFailure::Refused,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up after {:?}",
        started.elapsed()
    );
}

/// The same through the builder with a shorter timeout, and without `directConnection`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_timeout_bounds_connect() {
    let started = Instant::now();
    let error = limiter_core::MongoDbStorage::builder("mongodb://127.0.0.1:1")
        .timeout(Duration::from_millis(300))
        .build()
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(
        error.connect_failure(),
        Some(ConnectFailure::Refused),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "gave up after {:?}",
        started.elapsed()
    );
}
