//! Start-up faults on real servers: opening a Redis storage proves it with real commands and
//! reports the true cause (refused, authentication, bad database, timeout) as a typed error,
//! quickly, with the URI's password masked. Each test uses a `redis-server` of its own.

use limiter_core::storage::RedisStorage;
use limiter_core::{ConnectFailure, StorageError};
use limiter_tests::{free_port, PrivateRedis};
use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The connect timeout of these tests: every cause but the timeout must be reported well before.
const TIMEOUT: Duration = Duration::from_millis(800);
/// How long a cause other than the timeout may take to be reported.
const PROMPT: Duration = Duration::from_millis(300);

/// Whether the servers are here (`redis-server` is installed with them).
fn servers(test: &str) -> bool {
    limiter_tests::server_env("LIMITER_TEST_REDIS_URL", test).is_some()
}

/// Runs `opening` (of a storage on `url`, which must fail) and returns the error, its cause and
/// how long it took.
async fn timed_failure<T: Debug>(
    url: &str,
    opening: impl Future<Output = Result<T, StorageError>>,
) -> (StorageError, ConnectFailure, Duration) {
    let started = Instant::now();
    let error = opening.await.expect_err("opening must fail");
    let elapsed = started.elapsed();
    let cause = error
        .connect_failure()
        .unwrap_or_else(|| panic!("a Connect error: {error:?}"));
    println!("{url}: {error} after {elapsed:?}\n  {error:?}");
    (error, cause, elapsed)
}

/// Opens a Redis storage on `url` and returns the error, its cause and how long it took.
async fn open_error(url: &str) -> (StorageError, ConnectFailure, Duration) {
    timed_failure(url, RedisStorage::builder(url).timeout(TIMEOUT).build()).await
}

/// What a peer that is no storage server does with each connection.
#[derive(Clone, Copy)]
// Garbage and Closes serve the MongoDB tests, built with the `mongodb` feature.
#[cfg_attr(not(feature = "mongodb"), allow(dead_code))]
enum Peer {
    /// Accepts and never answers.
    Silent,
    /// Reads what the client sends, then answers bytes that are neither TLS nor a storage's.
    Garbage,
    /// Reads what the client sends, then closes the connection.
    Closes,
}

/// A listener on 127.0.0.1 that treats every connection as `peer` says; its port.
async fn listener(peer: Peer) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            match peer {
                Peer::Silent => held.push(socket),
                Peer::Garbage | Peer::Closes => {
                    tokio::spawn(async move {
                        let mut buffer = [0_u8; 1024];
                        let _ = socket.read(&mut buffer).await;
                        if let Peer::Garbage = peer {
                            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                            // Held open: the client must decide from the bytes alone.
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                    });
                }
            }
        }
    });
    (port, task)
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
    let (port, holder) = listener(Peer::Silent).await;
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

/// MongoDB's start-up causes over real sockets. No MongoDB server can run here (see
/// `shared/reference/test-servers.md`), so these use what can: a port where nothing listens, a
/// listener that never answers, one that answers the TLS handshake with garbage or closes, and
/// the TLS Redis of the test servers (a real TLS server whose certificate no platform root
/// trusts). Authentication and bad database need a MongoDB server: their classification is
/// unit-tested in `limiter-core` (`storage::mongodb::connect_failure`), on the driver's errors.
#[cfg(feature = "mongodb")]
mod mongodb {
    use super::{listener, timed_failure, Peer, PROMPT, TIMEOUT};
    use limiter_core::storage::MongoDbStorage;
    use limiter_core::{ConnectFailure, StorageError};
    use limiter_tests::free_port;
    use std::time::Duration;

    /// Opens a MongoDB storage on `url` with `timeout` and returns the error, its cause and how
    /// long it took.
    async fn open_error(url: &str, timeout: Duration) -> (StorageError, ConnectFailure, Duration) {
        timed_failure(url, MongoDbStorage::builder(url).timeout(timeout).build()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_connection_is_reported_as_refused_at_once() {
        let url = format!("mongodb://127.0.0.1:{}/", free_port());
        let (error, cause, elapsed) = open_error(&url, TIMEOUT).await;
        assert_eq!(cause, ConnectFailure::Refused, "{error:?}");
        assert!(elapsed < PROMPT, "{elapsed:?}");
        assert!(error.to_string().contains(&url), "names the URI: {error}");

        // A direct connection and a host that does not resolve are refused too.
        let direct = format!("mongodb://127.0.0.1:{}/?directConnection=true", free_port());
        let (_, cause, elapsed) = open_error(&direct, TIMEOUT).await;
        assert_eq!(cause, ConnectFailure::Refused);
        assert!(elapsed < PROMPT, "{elapsed:?}");
        let (_, cause, _) = open_error("mongodb://no-such-host.invalid:27017/", TIMEOUT).await;
        assert_eq!(cause, ConnectFailure::Refused);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_that_never_answers_is_a_timeout_at_the_timeout() {
        let (port, holder) = listener(Peer::Silent).await;
        let timeout = Duration::from_millis(300);
        let url = format!("mongodb://127.0.0.1:{port}/");
        let (_, cause, elapsed) = open_error(&url, timeout).await;
        assert_eq!(cause, ConnectFailure::Timeout);
        assert!(elapsed >= timeout, "{elapsed:?}");
        assert!(elapsed < timeout + PROMPT, "{elapsed:?}");
        holder.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tls_handshake_answered_with_garbage_or_closed_is_a_tls_failure() {
        let (port, garbage) = listener(Peer::Garbage).await;
        let url = format!("mongodb://127.0.0.1:{port}/?tls=true");
        let (_, cause, elapsed) = open_error(&url, TIMEOUT).await;
        assert_eq!(cause, ConnectFailure::Tls);
        assert!(elapsed < PROMPT, "{elapsed:?}");

        // The same peer without TLS: garbage where MongoDB's reply should be, not a TLS failure.
        let plain = format!("mongodb://127.0.0.1:{port}/");
        let (_, cause, _) = open_error(&plain, TIMEOUT).await;
        assert_ne!(cause, ConnectFailure::Tls);
        garbage.abort();

        let (port, closes) = listener(Peer::Closes).await;
        let url = format!("mongodb://127.0.0.1:{port}/?tls=true");
        let (_, cause, elapsed) = open_error(&url, TIMEOUT).await;
        assert_eq!(cause, ConnectFailure::Tls);
        assert!(elapsed < PROMPT, "{elapsed:?}");
        closes.abort();
    }

    /// A real TLS server (the test servers' TLS Redis) whose certificate is signed by a CA no
    /// platform root includes: the certificate check fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_untrusted_certificate_is_a_tls_failure() {
        let Some(redis) = limiter_tests::server_env(
            "LIMITER_TEST_REDIS_TLS_URL",
            "mongodb untrusted certificate",
        ) else {
            return;
        };
        // rediss://[user:password@]host:port[/db] -> host:port
        let rest = redis
            .split_once("://")
            .map_or(redis.as_str(), |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or(rest);
        let address = authority.rsplit('@').next().unwrap_or(authority);
        let url = format!("mongodb://{address}/?tls=true");
        let (error, cause, elapsed) = open_error(&url, TIMEOUT).await;
        assert_eq!(cause, ConnectFailure::Tls, "{error:?}");
        assert!(elapsed < PROMPT, "{elapsed:?}");
        assert!(
            format!("{error:?}").to_lowercase().contains("certificate"),
            "names the certificate: {error:?}"
        );

        // With the CA that signed it the handshake passes, and what fails next (a Redis does
        // not answer MongoDB's hello) is not a TLS failure.
        let ca = limiter_tests::server_env("LIMITER_TEST_REDIS_TLS_CA", "mongodb trusted")
            .expect("LIMITER_TEST_REDIS_TLS_CA must be set with LIMITER_TEST_REDIS_TLS_URL");
        let trusted = format!("mongodb://{address}/?tls=true&tlsCAFile={ca}");
        let (_, cause, _) = open_error(&trusted, Duration::from_millis(300)).await;
        assert_ne!(cause, ConnectFailure::Tls);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_password_never_appears_in_the_error() {
        let url = format!("mongodb://user:s3cret@127.0.0.1:{}/", free_port());
        let (error, cause, _) = open_error(&url, TIMEOUT).await;
        assert_eq!(cause, ConnectFailure::Refused);
        let display = error.to_string();
        let debug = format!("{error:?}");
        assert!(!display.contains("s3cret"), "{display}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(display.contains("user:***@127.0.0.1"), "{display}");

        // Also when it fails later, on a server that never answers.
        let (port, holder) = listener(Peer::Silent).await;
        let url = format!("mongodb://user:s3cret@127.0.0.1:{port}/?authSource=admin");
        let (error, cause, _) = open_error(&url, Duration::from_millis(300)).await;
        assert_eq!(cause, ConnectFailure::Timeout);
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
        holder.abort();
    }
}
