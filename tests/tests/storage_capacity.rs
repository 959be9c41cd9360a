//! Limits the storage cannot represent are start-up errors naming the limit and the bound, not
//! 500s (and keys without expiry) on the first requests.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, BuildError, Limiter, Router};

const HUGE: &str = "18446744073709551615 per 1 year";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_refuses_an_amount_beyond_what_lua_counts_exactly() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "capacity") else {
        return;
    };
    let error = Limiter::new(get_remote_address)
        .storage_uri(&url)
        .default_limits([HUGE])
        .build()
        .await
        .expect_err("too large for Redis");
    assert!(
        matches!(error, BuildError::LimitTooLarge { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(HUGE) && text.contains("9007199254740992"),
        "{text}"
    );

    // On a route: refused when the router is resolved.
    let limiter = Limiter::new(get_remote_address)
        .storage_uri(&url)
        .build()
        .await
        .unwrap();
    let error = Router::<()>::new()
        .route("/a", get(|| async { "ok" }).limit(HUGE))
        .with_limiter(&limiter)
        .expect_err("too large for Redis");
    assert!(
        matches!(&error, BuildError::LimitTooLarge { place, .. } if place.contains("route")),
        "{error:?}"
    );
    // The largest exact amount is accepted.
    Limiter::new(get_remote_address)
        .storage_uri(&url)
        .default_limits(["9007199254740992 per 1 year"])
        .build()
        .await
        .expect("2^53 fits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_refuses_windows_beyond_thirty_days() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_MEMCACHED_URL", "capacity") else {
        return;
    };
    let error = Limiter::new(get_remote_address)
        .storage_uri(&url)
        .application_limits(["1000 per 1 year"])
        .build()
        .await
        .expect_err("memcached reads such an expiry as a Unix time");
    assert!(error.to_string().contains("2592000 s"), "{error}");
    Limiter::new(get_remote_address)
        .storage_uri(&url)
        .application_limits(["1000 per 30 days"])
        .build()
        .await
        .expect("30 days fit");
}

#[tokio::test]
async fn memory_takes_any_limit() {
    Limiter::new(get_remote_address)
        .default_limits([HUGE])
        .build()
        .await
        .expect("memory counts in 64 bits");
}
