//! Checking a request against three limits costs exactly one script call on the server, under
//! every strategy, counted with `INFO commandstats`.
//!
//! A test binary of its own: `cargo test` runs test binaries one after the other, so no other
//! test's scripts are counted (the tests below also run one at a time, under a lock).

use limiter_core::{Granularity, Hit, RateLimit, Storage, Strategy};
use limiter_tests::suite::unique_id;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Three limits on one request, as the middleware sends them: one batch, one script call.
async fn three_limits_one_script_call(storage: Storage, server_url: &str) {
    let _serial = SERIAL.lock().await;
    let mut server = limiter_tests::redis_connection(server_url).await;
    let limits = [
        RateLimit::new(10, 1, Granularity::Second),
        RateLimit::new(100, 1, Granularity::Minute),
        RateLimit::new(1000, 1, Granularity::Hour),
    ];
    for strategy in Strategy::ALL {
        let id = unique_id("round-trips");
        let ids = [id.as_str(), "route"];
        let hits: Vec<Hit<'_>> = limits
            .iter()
            .map(|limit| Hit {
                limit,
                identifiers: &ids,
                cost: 1,
            })
            .collect();
        // The first call may also load the script (NOSCRIPT, SCRIPT LOAD, EVALSHA).
        storage
            .acquire(strategy, &hits, true)
            .await
            .expect("warm up");
        for _ in 0..5 {
            let scripts_before = limiter_tests::script_calls(&mut server).await;
            let loads_before =
                limiter_tests::command_calls(&mut server, &["script|load", "script"]).await;
            let decisions = storage
                .acquire(strategy, &hits, true)
                .await
                .expect("acquire");
            let scripts_after = limiter_tests::script_calls(&mut server).await;
            let loads_after =
                limiter_tests::command_calls(&mut server, &["script|load", "script"]).await;
            assert_eq!(decisions.len(), 3);
            assert!(decisions.iter().all(|decision| decision.allowed));
            assert_eq!(
                scripts_after - scripts_before,
                1,
                "{strategy}: one script call for 3 limits"
            );
            assert_eq!(loads_after, loads_before, "{strategy}: no script reload");
        }
        println!("{strategy}: 3 limits -> 1 script call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_three_limits_one_script_call() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "round trips") else {
        return;
    };
    let storage = Storage::connect(&url).await.expect("connect");
    three_limits_one_script_call(storage, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_three_limits_one_script_call() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_SENTINEL_URL", "round trips")
    else {
        return;
    };
    let Some(sentinel_port) =
        limiter_tests::server_env("LIMITER_TEST_SENTINEL_PORT", "round trips")
    else {
        return;
    };
    let storage = Storage::connect(&url).await.expect("connect");
    let master = limiter_tests::sentinel_master(&sentinel_port).await;
    three_limits_one_script_call(storage, &format!("redis://{master}")).await;
}
