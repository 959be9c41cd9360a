//! A key left by another strategy (`WRONGTYPE`), as after a live deployment changes its
//! strategy: the key is removed with a warning and the request decided, instead of an error (a
//! 500) for every request until the old key expires.

use limiter_core::storage::RedisStorage;
use limiter_core::{Granularity, Hit, RateLimit, Storage, Strategy};
use limiter_tests::suite::unique_id;

async fn storage() -> Option<Storage> {
    let url = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "wrong type")?;
    Some(RedisStorage::connect(url).await.expect("connect").into())
}

async fn acquire(storage: &Storage, strategy: Strategy, limit: &RateLimit, id: &str) -> bool {
    let ids = [id];
    let hit = Hit {
        limit,
        identifiers: &ids,
        cost: 1,
    };
    storage
        .acquire(strategy, &[hit], false)
        .await
        .unwrap_or_else(|error| panic!("{strategy} after another strategy's key: {error}"))[0]
        .allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_strategy_is_reset_not_an_error() {
    let Some(storage) = storage().await else {
        return;
    };
    let limit = RateLimit::new(2, 1, Granularity::Minute);
    // Fixed and moving windows name their keys alike: a string where a list is expected, then
    // the reverse.
    for (old, new) in [
        (Strategy::FixedWindow, Strategy::MovingWindow),
        (Strategy::MovingWindow, Strategy::FixedWindow),
    ] {
        let id = unique_id(&format!("wrongtype-{old}-{new}"));
        assert!(acquire(&storage, old, &limit, &id).await);
        assert!(acquire(&storage, old, &limit, &id).await);
        assert!(!acquire(&storage, old, &limit, &id).await, "{old} full");
        // The new strategy starts a fresh counter on the old key's name.
        assert!(acquire(&storage, new, &limit, &id).await, "{old} → {new}");
        assert!(acquire(&storage, new, &limit, &id).await);
        assert!(!acquire(&storage, new, &limit, &id).await, "{new} counts");
        // Peeks too: the new strategy's key is reset, so the old strategy sees a fresh window.
        let ids = [id.as_str()];
        let hit = Hit {
            limit: &limit,
            identifiers: &ids,
            cost: 1,
        };
        assert!(storage
            .test(old, hit)
            .await
            .expect("test after the change back"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_window_keys_of_another_type_are_reset() {
    let Some(storage) = storage().await else {
        return;
    };
    let url = std::env::var("LIMITER_TEST_REDIS_URL").unwrap();
    let limit = RateLimit::new(2, 1, Granularity::Minute);
    let id = unique_id("wrongtype-sliding");
    let keys = RedisStorage::keys_for("LIMITS", Strategy::SlidingWindowCounter, &limit, &[&id]);
    let mut connection = limiter_tests::redis_connection(&url).await;
    for key in &keys {
        let _: () = redis::cmd("RPUSH")
            .arg(key)
            .arg("1")
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    assert!(acquire(&storage, Strategy::SlidingWindowCounter, &limit, &id).await);
    assert!(acquire(&storage, Strategy::SlidingWindowCounter, &limit, &id).await);
    assert!(!acquire(&storage, Strategy::SlidingWindowCounter, &limit, &id).await);
}
