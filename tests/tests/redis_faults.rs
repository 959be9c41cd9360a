//! Faults on real servers: the standalone Redis stopped mid-test, and a sentinel failover.
//!
//! A test binary of its own, so that stopping the standalone Redis or failing the sentinel's
//! master over does not disturb the behavioural suite (`cargo test` runs test binaries one after
//! the other); the tests below also take a lock, so they run one at a time.
//! The standalone Redis is stopped and started with `scripts/test-servers.sh stop-redis` /
//! `start-redis`, so these tests need the servers of that script (and its environment, if
//! ports were overridden).

use limiter_core::storage::RedisStorage;
use limiter_core::{Granularity, Hit, RateLimit, Storage, StorageError, Strategy};
use limiter_tests::suite::unique_id;
use std::time::{Duration, Instant};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Restarts the standalone Redis when dropped, so that a failing test leaves it running.
struct RestartOnDrop {
    stopped: bool,
}

impl RestartOnDrop {
    fn stop(&mut self) {
        limiter_tests::test_servers("stop-redis");
        self.stopped = true;
    }

    fn start(&mut self) {
        limiter_tests::test_servers("start-redis");
        self.stopped = false;
    }
}

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if self.stopped {
            limiter_tests::test_servers("start-redis");
        }
    }
}

async fn hit(storage: &Storage, strategy: Strategy, id: &str) -> Result<bool, StorageError> {
    let limit = RateLimit::new(1000, 1, Granularity::Minute);
    let ids = [id];
    let decisions = storage
        .acquire(
            strategy,
            &[Hit {
                limit: &limit,
                identifiers: &ids,
                cost: 1,
            }],
            false,
        )
        .await?;
    Ok(decisions[0].allowed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_redis_gives_typed_errors_in_time_then_recovers() {
    let _serial = SERIAL.lock().await;
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "redis faults") else {
        return;
    };
    let timeout = Duration::from_millis(500);
    let storage: Storage = RedisStorage::builder(&url)
        .timeout(timeout)
        .build()
        .await
        .expect("connect")
        .into();
    // Fixed and moving windows name their keys alike (as in `limits`): one id per strategy.
    let ids = Strategy::ALL.map(|strategy| unique_id(&format!("faults-{strategy}")));
    for (strategy, id) in Strategy::ALL.into_iter().zip(&ids) {
        assert!(hit(&storage, strategy, id).await.expect("server up"));
    }
    assert!(storage.check().await);

    let mut server = RestartOnDrop { stopped: false };
    server.stop();
    // Every operation fails with a typed error, within the timeout (plus scheduling slack).
    let limit = RateLimit::new(10, 1, Granularity::Minute);
    for round in 0..3 {
        for (strategy, id) in Strategy::ALL.into_iter().zip(&ids) {
            let started = Instant::now();
            let error = hit(&storage, strategy, id)
                .await
                .expect_err("server is down");
            let elapsed = started.elapsed();
            assert!(
                matches!(
                    error,
                    StorageError::Backend { .. } | StorageError::Timeout { .. }
                ),
                "{strategy}: {error:?}"
            );
            assert!(
                elapsed <= timeout + Duration::from_millis(250),
                "{strategy}: {elapsed:?}"
            );
            println!("round {round}, {strategy}: {error} after {elapsed:?}");

            let started = Instant::now();
            assert!(storage.window_stats(strategy, &limit, &[id]).await.is_err());
            assert!(started.elapsed() <= timeout + Duration::from_millis(250));
        }
        let started = Instant::now();
        assert!(
            !storage.check().await,
            "check is false while the server is down"
        );
        assert!(started.elapsed() <= timeout + Duration::from_millis(250));
        assert!(storage.clear(&limit, &[&ids[0]]).await.is_err());
    }

    server.start();
    // The same storage reconnects by itself (and reloads its scripts: the restarted server has
    // none).
    let started = Instant::now();
    let mut recovered = false;
    while started.elapsed() < Duration::from_secs(10) {
        match hit(&storage, Strategy::FixedWindow, &ids[0]).await {
            Ok(allowed) => {
                assert!(allowed);
                recovered = true;
                break;
            }
            Err(error) => println!("not yet: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "no recovery within 10 s");
    println!("recovered {:?} after start-redis", started.elapsed());
    for (strategy, id) in Strategy::ALL.into_iter().zip(&ids) {
        assert!(
            hit(&storage, strategy, id).await.expect("recovered"),
            "{strategy}"
        );
    }
    assert!(storage.check().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_is_followed() {
    let _serial = SERIAL.lock().await;
    let test = "sentinel failover";
    let (Some(url), Some(sentinel_port)) = (
        limiter_tests::server_env("LIMITER_TEST_REDIS_SENTINEL_URL", test),
        limiter_tests::server_env("LIMITER_TEST_SENTINEL_PORT", test),
    ) else {
        return;
    };
    let storage = Storage::connect(&url).await.expect("connect");
    let id = unique_id("failover");
    assert!(hit(&storage, Strategy::FixedWindow, &id)
        .await
        .expect("before failover"));
    let mut sentinel =
        limiter_tests::redis_connection(&format!("redis://127.0.0.1:{sentinel_port}")).await;
    // An earlier failover may still be settling (its old master becomes a replica only ~10 s
    // later): wait for a healthy replica, fail over, and wait for the sentinel to report the new
    // master.
    let started = Instant::now();
    let (old_master, new_master) = 'failover: loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no failover within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let replicas: Vec<std::collections::HashMap<String, String>> = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg("mymaster")
            .query_async(&mut sentinel)
            .await
            .expect("SENTINEL REPLICAS");
        let healthy = replicas.iter().any(|replica| {
            replica.get("flags").map(String::as_str) == Some("slave")
                && replica.get("master-link-status").map(String::as_str) == Some("ok")
        });
        if !healthy {
            continue;
        }
        let old_master = limiter_tests::sentinel_master(&sentinel_port).await;
        let reply: redis::RedisResult<String> = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg("mymaster")
            .query_async(&mut sentinel)
            .await;
        if let Err(error) = reply {
            println!("SENTINEL FAILOVER: {error}; retrying");
            continue;
        }
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(10) {
            let master = limiter_tests::sentinel_master(&sentinel_port).await;
            if master != old_master {
                break 'failover (old_master, master);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    println!(
        "failover {old_master} -> {new_master} in {:?}",
        started.elapsed()
    );

    // The storage, never rebuilt, must soon count on the new master.
    let key = format!("LIMITS:LIMITER/{id}/1000/1/minute");
    let mut on_new = limiter_tests::redis_connection(&format!("redis://{new_master}")).await;
    let followed = Instant::now();
    let mut errors = 0;
    let count = |connection: &mut redis::aio::MultiplexedConnection| {
        let mut connection = connection.clone();
        let key = key.clone();
        async move {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<u64>>(&mut connection)
                .await
                .expect("GET on the new master")
                .unwrap_or(0)
        }
    };
    loop {
        let before = count(&mut on_new).await;
        match hit(&storage, Strategy::FixedWindow, &id).await {
            Ok(allowed) => assert!(allowed),
            Err(error) => {
                errors += 1;
                println!("during failover: {error}");
            }
        }
        // Counted on the new master itself: the hit now goes there.
        if count(&mut on_new).await == before + 1 {
            break;
        }
        assert!(
            followed.elapsed() < Duration::from_secs(15),
            "the storage did not follow the failover within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "followed the new master {:?} after the sentinel reported it ({errors} errors meanwhile)",
        followed.elapsed()
    );
    assert!(storage.check().await);
}
