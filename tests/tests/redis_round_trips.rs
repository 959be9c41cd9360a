//! Checking a request against three limits costs exactly one script call on the server, under
//! every strategy, counted with `INFO commandstats`.
//!
//! A test binary of its own, so that no other test's scripts are counted: `cargo test` runs test
//! binaries one after the other, and `cargo nextest` runs these tests alone
//! (`.config/nextest.toml`); within a `cargo test` run they take a lock.

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

/// A storage on the test sentinel's service, and the URL of its current master (whose
/// statistics count the calls); `None` when the sentinel is not configured.
async fn sentinel_storage() -> Option<(Storage, String)> {
    let url = limiter_tests::server_env("LIMITER_TEST_REDIS_SENTINEL_URL", "round trips")?;
    let sentinel_port = limiter_tests::server_env("LIMITER_TEST_SENTINEL_PORT", "round trips")?;
    let storage = Storage::connect(&url).await.expect("connect");
    let master = limiter_tests::sentinel_master(&sentinel_port).await;
    Some((storage, format!("redis://{master}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_three_limits_one_script_call() {
    let Some((storage, master_url)) = sentinel_storage().await else {
        return;
    };
    three_limits_one_script_call(storage, &master_url).await;
}

/// Concurrent requests leave in shared script calls, and stay exact: 64 requests of two limits
/// each, half of them stopping at their first rejected hit, against 10 per minute then 1000 per
/// minute: exactly 10 admitted; a stopping request that is rejected has one decision, the others
/// two; and far fewer script calls than requests. On a current-thread runtime the 64 requests
/// queue before the coalescing task runs, so they share one or two calls.
async fn concurrent_requests_share_script_calls(storage: Storage, server_url: &str) {
    let _serial = SERIAL.lock().await;
    let mut server = limiter_tests::redis_connection(server_url).await;
    for strategy in Strategy::ALL {
        let id = unique_id("coalesced");
        let scripts_before = limiter_tests::script_calls(&mut server).await;
        let requests: Vec<_> = (0..64)
            .map(|request| {
                let storage = storage.clone();
                let id = id.clone();
                tokio::spawn(async move {
                    let tight = RateLimit::new(10, 1, Granularity::Minute);
                    let loose = RateLimit::new(1000, 1, Granularity::Minute);
                    let ids = [id.as_str(), "route"];
                    let hits = [&tight, &loose].map(|limit| Hit {
                        limit,
                        identifiers: &ids,
                        cost: 1,
                    });
                    let stop_at_first_breach = request % 2 == 0;
                    let decisions = storage
                        .acquire(strategy, &hits, stop_at_first_breach)
                        .await
                        .expect("acquire");
                    (stop_at_first_breach, decisions)
                })
            })
            .collect();
        let mut admitted = 0;
        for request in requests {
            let (stop_at_first_breach, decisions) = request.await.expect("request task");
            if decisions[0].allowed {
                admitted += 1;
            }
            let expected = if stop_at_first_breach && !decisions[0].allowed {
                1
            } else {
                2
            };
            assert_eq!(decisions.len(), expected, "{strategy}");
            if expected == 2 {
                assert!(decisions[1].allowed, "{strategy}: 1000 per minute");
            }
        }
        let calls = limiter_tests::script_calls(&mut server).await - scripts_before;
        assert_eq!(admitted, 10, "{strategy}: exactly the limit");
        assert!(
            calls <= 4,
            "{strategy}: 64 requests took {calls} script calls"
        );
        println!("{strategy}: 64 concurrent requests -> {calls} script call(s)");
    }
}

#[tokio::test]
async fn standalone_concurrent_requests_share_script_calls() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "round trips") else {
        return;
    };
    let storage = Storage::connect(&url).await.expect("connect");
    // Loads the scripts, which would otherwise add calls to the count.
    warm_up(&storage).await;
    concurrent_requests_share_script_calls(storage, &url).await;
}

#[tokio::test]
async fn sentinel_concurrent_requests_share_script_calls() {
    let Some((storage, master_url)) = sentinel_storage().await else {
        return;
    };
    warm_up(&storage).await;
    concurrent_requests_share_script_calls(storage, &master_url).await;
}

/// One hit under every strategy, so that each script is loaded on the server.
async fn warm_up(storage: &Storage) {
    let limit = RateLimit::new(10, 1, Granularity::Minute);
    for strategy in Strategy::ALL {
        // A key per strategy: each stores a different type.
        let id = unique_id("warm-up");
        let hit = Hit {
            limit: &limit,
            identifiers: &[id.as_str()],
            cost: 1,
        };
        storage.acquire_one(strategy, &hit).await.expect("warm up");
    }
}

/// Once a key is over its limit, further rejected hits (batch, single, `test`) are answered by the
/// over-limit cache without any script call; `clear` drops the entry; once `reset_at` passes the
/// server is asked again and admits; with the cache off every rejected hit is a script call.
async fn over_limit_hits_skip_the_server(url: &str) {
    let _serial = SERIAL.lock().await;
    let mut server = limiter_tests::redis_connection(url).await;
    let cached = Storage::from(
        limiter_core::storage::RedisStorage::builder(url)
            .over_limit_cache(true)
            .build()
            .await
            .expect("connect"),
    );
    // The default: no cache.
    let uncached = Storage::from(
        limiter_core::storage::RedisStorage::builder(url)
            .build()
            .await
            .expect("connect"),
    );
    let limit = RateLimit::new(2, 1, Granularity::Second);
    let other = RateLimit::new(100, 1, Granularity::Minute);
    for strategy in Strategy::ALL {
        let id = unique_id("over-limit");
        let ids = [id.as_str(), "route"];
        let hit = Hit {
            limit: &limit,
            identifiers: &ids,
            cost: 1,
        };
        let batch = [
            hit,
            Hit {
                limit: &other,
                ..hit
            },
        ];
        let fill = |storage: &Storage| {
            let storage = storage.clone();
            async move {
                for _ in 0..2 {
                    assert!(
                        storage
                            .acquire_one(strategy, &hit)
                            .await
                            .expect("hit")
                            .allowed
                    );
                }
                let rejected = storage.acquire_one(strategy, &hit).await.expect("hit");
                assert!(!rejected.allowed, "{strategy}: third hit of 2");
                rejected
            }
        };

        let rejected = fill(&cached).await;
        let before = limiter_tests::script_calls(&mut server).await;
        for _ in 0..5 {
            let decision = cached.acquire_one(strategy, &hit).await.expect("hit");
            assert!(!decision.allowed, "{strategy}");
            assert_eq!(decision.remaining, 0);
            assert_eq!(decision.reset_at, rejected.reset_at);
            let decisions = cached.acquire(strategy, &batch, true).await.expect("batch");
            assert_eq!(
                decisions.len(),
                1,
                "{strategy}: stopped at the first breach"
            );
            assert!(!decisions[0].allowed);
            assert!(
                !cached
                    .acquire_one(strategy, &Hit { cost: 3, ..hit })
                    .await
                    .expect("hit")
                    .allowed
            );
            assert!(!cached.test(strategy, hit).await.expect("test"));
        }
        let after = limiter_tests::script_calls(&mut server).await;
        assert_eq!(
            after, before,
            "{strategy}: rejected hits sent no script call"
        );

        // `clear` through this storage drops the entry: the next hit goes to the server.
        cached.clear(&limit, &ids).await.expect("clear");
        let before = limiter_tests::script_calls(&mut server).await;
        assert!(
            cached
                .acquire_one(strategy, &hit)
                .await
                .expect("hit")
                .allowed
        );
        let after = limiter_tests::script_calls(&mut server).await;
        assert_eq!(
            after - before,
            1,
            "{strategy}: after clear, one script call"
        );

        // Over again; once `reset_at` passes the server is asked and admits.
        cached.clear(&limit, &ids).await.expect("clear");
        let rejected = fill(&cached).await;
        let wait = rejected
            .reset_at
            .as_nanos()
            .saturating_sub(limiter_core::Timestamp::from(std::time::SystemTime::now()).as_nanos());
        tokio::time::sleep(
            std::time::Duration::from_nanos(wait) + std::time::Duration::from_millis(50),
        )
        .await;
        let before = limiter_tests::script_calls(&mut server).await;
        assert!(
            cached
                .acquire_one(strategy, &hit)
                .await
                .expect("hit")
                .allowed,
            "{strategy}: admitted after reset_at"
        );
        let after = limiter_tests::script_calls(&mut server).await;
        assert_eq!(
            after - before,
            1,
            "{strategy}: after reset_at, one script call"
        );

        // Cache off: every rejected hit is a script call.
        let id = unique_id("over-limit-off");
        let ids = [id.as_str(), "route"];
        let hit = Hit {
            limit: &limit,
            identifiers: &ids,
            cost: 1,
        };
        for _ in 0..2 {
            assert!(
                uncached
                    .acquire_one(strategy, &hit)
                    .await
                    .expect("hit")
                    .allowed
            );
        }
        let before = limiter_tests::script_calls(&mut server).await;
        for _ in 0..3 {
            assert!(
                !uncached
                    .acquire_one(strategy, &hit)
                    .await
                    .expect("hit")
                    .allowed
            );
        }
        let after = limiter_tests::script_calls(&mut server).await;
        assert_eq!(
            after - before,
            3,
            "{strategy}: cache off, one script call per hit"
        );
        println!("{strategy}: over-limit hits answered locally");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_over_limit_hits_skip_the_server() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "round trips") else {
        return;
    };
    over_limit_hits_skip_the_server(&url).await;
}
