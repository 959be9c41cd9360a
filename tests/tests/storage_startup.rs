//! Start-up faults on real servers: opening a Redis storage proves it with real commands and
//! reports the true cause (refused, authentication, bad database, timeout) as a typed error,
//! quickly, with the URI's password masked. Each test uses a `redis-server` of its own.

use limiter_core::storage::RedisStorage;
use limiter_core::{ConnectFailure, StorageError};
use limiter_tests::{free_port, PrivateRedis};
use std::time::{Duration, Instant};

/// The connect timeout of these tests: every cause but the timeout must be reported well before.
const TIMEOUT: Duration = Duration::from_millis(800);
/// How long a cause other than the timeout may take to be reported.
const PROMPT: Duration = Duration::from_millis(300);

/// Whether the servers are here (`redis-server` is installed with them).
fn servers(test: &str) -> bool {
    limiter_tests::server_env("LIMITER_TEST_REDIS_URL", test).is_some()
}

/// Opens `url` and returns the error, its cause and how long it took.
async fn open_error(url: &str) -> (StorageError, ConnectFailure, Duration) {
    let started = Instant::now();
    let error = RedisStorage::builder(url)
        .timeout(TIMEOUT)
        .build()
        .await
        .expect_err("opening must fail");
    let elapsed = started.elapsed();
    let cause = error
        .connect_failure()
        .unwrap_or_else(|| panic!("a Connect error: {error:?}"));
    println!("{url}: {error} after {elapsed:?}");
    (error, cause, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_reported_as_refused_at_once() {
    if !servers("refused") {
        return;
    }
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let (_, cause, elapsed) = open_error(&url).await;
    assert_eq!(cause, ConnectFailure::Refused);
    assert!(elapsed < PROMPT, "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_wrong_passwords_are_authentication_failures() {
    if !servers("authentication") {
        return;
    }
    let redis = PrivateRedis::start(Some("s3cret-pw"));
    let (_, cause, elapsed) = open_error(&redis.url_without_password()).await;
    assert_eq!(cause, ConnectFailure::Authentication, "NOAUTH at the PING");
    assert!(elapsed < PROMPT, "{elapsed:?}");

    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}/0", redis.port);
    let (error, cause, elapsed) = open_error(&wrong).await;
    assert_eq!(cause, ConnectFailure::Authentication);
    assert!(elapsed < PROMPT, "{elapsed:?}");
    let text = error.to_string();
    assert!(!text.contains("wrong-pw"), "password masked: {text}");
    assert!(text.contains("authentication failed"), "{text}");

    // The right password opens it.
    RedisStorage::builder(redis.url(0))
        .timeout(TIMEOUT)
        .build()
        .await
        .expect("the right password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_out_of_range_is_a_bad_database() {
    if !servers("bad database") {
        return;
    }
    let redis = PrivateRedis::start(Some("s3cret-pw"));
    let (error, cause, elapsed) = open_error(&redis.url(99)).await;
    assert_eq!(cause, ConnectFailure::Database);
    assert!(elapsed < PROMPT, "{elapsed:?}");
    let text = error.to_string();
    assert!(!text.contains("s3cret-pw"), "password masked: {text}");
    assert!(text.contains("/99"), "names the URI: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_timeout_at_the_connect_timeout() {
    // A listener that accepts and never answers: the handshake waits until the timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("redis://127.0.0.1:{port}/0");
    let started = Instant::now();
    let connect_timeout = Duration::from_millis(300);
    let error = RedisStorage::builder(&url)
        .connect_timeout(connect_timeout)
        .build()
        .await
        .expect_err("nothing answers");
    let elapsed = started.elapsed();
    println!("{url}: {error} after {elapsed:?}");
    assert_eq!(error.connect_failure(), Some(ConnectFailure::Timeout));
    assert!(elapsed >= connect_timeout, "{elapsed:?}");
    assert!(elapsed < connect_timeout + PROMPT, "{elapsed:?}");

    // The same from the URI's query, with redis-py's parameter name (seconds).
    let started = Instant::now();
    let error = RedisStorage::builder(format!("{url}?socket_connect_timeout=0.2"))
        .build()
        .await
        .expect_err("nothing answers");
    let elapsed = started.elapsed();
    assert_eq!(error.connect_failure(), Some(ConnectFailure::Timeout));
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_millis(200) + PROMPT,
        "{elapsed:?}"
    );
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_refused_is_reported_as_refused() {
    if limiter_tests::server_env("LIMITER_TEST_MEMCACHED_URL", "memcached refused").is_none() {
        return;
    }
    let url = format!("memcached://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let error = limiter_core::Storage::connect(&url)
        .await
        .expect_err("nothing listens");
    let elapsed = started.elapsed();
    println!("{url}: {error} after {elapsed:?}");
    assert_eq!(
        error.connect_failure(),
        Some(ConnectFailure::Refused),
        "{error}"
    );
    assert!(error.to_string().contains(&url), "{error}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}
