//! Lazy start on real servers: an app with a fallback (or fail-open) starts while its Redis is
//! down, serves meanwhile, and moves to Redis once it appears; an app that fails closed refuses
//! to start, with the true cause; the `limiter` CLI reads an app whose Redis is down.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, BuildError, Limiter, Router};
use limiter_core::ConnectFailure;
use limiter_tests::{cargo_binary, free_port, serve, PrivateRedis};
use std::process::Command;
use std::time::{Duration, Instant};

fn servers(test: &str) -> bool {
    limiter_tests::server_env("LIMITER_TEST_REDIS_URL", test).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_fallback_the_app_starts_without_redis_then_uses_it_once_it_appears() {
    if !servers("lazy start") {
        return;
    }
    let port = free_port();
    let started = Instant::now();
    let limiter = Limiter::new(get_remote_address)
        .storage_uri(format!("redis://127.0.0.1:{port}/0"))
        .default_limits(["1000 per hour"])
        .in_memory_fallback_enabled(true)
        .build()
        .await
        .expect("starts without its Redis");
    let build_time = started.elapsed();
    assert!(build_time < Duration::from_millis(500), "{build_time:?}");
    let app = Router::new()
        .route("/a", get(|| async { "ok" }))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let statuses = server.statuses("/a", 10).await;
    assert_eq!(statuses, [200; 10], "served by the fallback");
    assert!(limiter.storage_dead());

    // Redis appears: the background connection opens (within 1 + 2 + 4 s), then a probe closes
    // the breaker (probes 1, 2, 4 … s apart).
    let redis = PrivateRedis::start_on(port, None);
    let appeared = Instant::now();
    while limiter.storage_dead() {
        assert!(appeared.elapsed() < Duration::from_secs(30), "recovers");
        assert_eq!(server.get("/a").await.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "built in {build_time:?}; back on Redis {:?} after it appeared",
        appeared.elapsed()
    );
    // Now counted on Redis: exactly the requests admitted since the breaker closed (the one
    // that closed it, then these five); none of those the fallback served.
    let admitted = server.statuses("/a", 5).await;
    assert_eq!(admitted, [200; 5]);
    let mut connection = limiter_tests::redis_connection(&redis.url(0)).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("LIMITS:*")
        .query_async(&mut connection)
        .await
        .unwrap();
    let mut counted = 0;
    for key in &keys {
        let count: u64 = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        counted += count;
    }
    assert_eq!(counted, 1 + 5, "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_closed_the_app_refuses_to_start_with_the_cause() {
    let port = free_port();
    let started = Instant::now();
    let error = Limiter::new(get_remote_address)
        .storage_uri(format!("redis://127.0.0.1:{port}/0"))
        .build()
        .await
        .expect_err("no Redis, no fallback, fail closed");
    let elapsed = started.elapsed();
    match &error {
        BuildError::Storage(storage) => {
            assert_eq!(storage.connect_failure(), Some(ConnectFailure::Refused))
        }
        other => panic!("a storage error: {other:?}"),
    }
    assert!(elapsed < Duration::from_millis(300), "{elapsed:?}");
    assert!(error.to_string().contains("connection refused"), "{error}");
}

/// `limiter limits` and `limiter config` need the app's routes and configuration, not its
/// storage: they work, and exit 0, while the app's Redis is down.
#[test]
fn the_cli_reads_an_app_whose_redis_is_down() {
    let uri = format!("redis://127.0.0.1:{}/0", free_port());
    let run = |args: &[&str]| {
        let mut command = Command::new(cargo_binary("limiter"));
        for name in limiter_core::model::env::ALL {
            command.env_remove(name);
        }
        let output = command
            .env_remove("LIMITER_APP")
            .env("RATELIMIT_STORAGE_URI", &uri)
            .args(["--color", "never", "--app"])
            .arg(cargo_binary("blueprints"))
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["limits"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("bp.bpa: /bp/a"), "{stdout}");
    let (code, stdout, stderr) = run(&["config"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(&uri), "{stdout}");
    println!("{stdout}");
}
