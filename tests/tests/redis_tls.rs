//! The behavioural suite against a real Redis over TLS (`rediss://`), and the ways a TLS
//! connection must fail: an untrusted certificate, `#insecure`, certificates on a plain URI.
//!
//! The server comes from `LIMITER_TEST_REDIS_TLS_URL`, the CA that signed its certificate from
//! `LIMITER_TEST_REDIS_TLS_CA` (a PEM file); both are exported by `scripts/test-servers.sh start`
//! (see `limiter_tests::server_env` for the skip rule).

use limiter_core::{RedisStorage, Storage, StorageError, Strategy};
use std::time::{Duration, Instant};

/// The TLS server's URL and its CA (PEM), or `None` (skipped) when the servers are not running.
fn tls_server(test: &str) -> Option<(String, Vec<u8>)> {
    let url = limiter_tests::server_env("LIMITER_TEST_REDIS_TLS_URL", test)?;
    let ca = limiter_tests::server_env("LIMITER_TEST_REDIS_TLS_CA", test)
        .expect("LIMITER_TEST_REDIS_TLS_CA must be set with LIMITER_TEST_REDIS_TLS_URL");
    let pem = std::fs::read(&ca).unwrap_or_else(|error| panic!("read {ca}: {error}"));
    Some((url, pem))
}

async fn open() -> Option<Storage> {
    let (url, ca) = tls_server("redis tls suite")?;
    let storage = RedisStorage::builder(&url)
        .tls_root_certificates(ca)
        .build()
        .await
        .unwrap_or_else(|error| panic!("connect to {url} with its CA: {error}"));
    assert_eq!(storage.backend_name(), "rediss");
    Some(storage.into())
}

limiter_tests::storage_suite!(open);

/// `valkeys://` is the same TLS connection under Valkey's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkeys_alias_connects_over_tls() {
    let Some((url, ca)) = tls_server("valkeys alias") else {
        return;
    };
    let url = url.replacen("rediss://", "valkeys://", 1);
    let storage = RedisStorage::builder(&url)
        .tls_root_certificates(ca)
        .build()
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"));
    assert_eq!(storage.backend_name(), "valkeys");
    let storage = Storage::from(storage);
    let limit = limiter_tests::suite::per_seconds(2, 60);
    let id = limiter_tests::suite::unique_id("VALKEYS");
    let strategy = Strategy::FixedWindow;
    assert!(
        limiter_tests::suite::hit(&storage, strategy, &limit, &id, 1)
            .await
            .allowed
    );
    assert!(
        limiter_tests::suite::hit(&storage, strategy, &limit, &id, 1)
            .await
            .allowed
    );
    assert!(
        !limiter_tests::suite::hit(&storage, strategy, &limit, &id, 1)
            .await
            .allowed
    );
}

/// Asserts that building fails with a typed error well within `timeout` — [`StorageError::Backend`]
/// for a configuration refused before connecting, else [`StorageError::Connect`] with
/// [`ConnectFailure::Tls`] — and returns the error's text (its source chain included).
async fn backend_error_at_connect(builder: limiter_core::storage::RedisStorageBuilder) -> String {
    let timeout = Duration::from_secs(2);
    let started = Instant::now();
    let error = builder
        .timeout(timeout)
        .build()
        .await
        .expect_err("the connection must be refused");
    let elapsed = started.elapsed();
    assert!(
        matches!(error, StorageError::Backend { .. })
            || error.connect_failure() == Some(limiter_core::ConnectFailure::Tls),
        "a typed Backend or TLS error, not a timeout: {error:?}"
    );
    assert!(
        elapsed < timeout,
        "failed fast, not at the timeout: {elapsed:?}"
    );
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    println!("{text} after {elapsed:?}");
    text
}

/// Without the CA, the server's certificate is untrusted (the platform roots do not include the
/// throw-away test CA): connecting fails with a typed error naming the certificate, promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_a_typed_error_at_connect() {
    let Some((url, _)) = tls_server("untrusted certificate") else {
        return;
    };
    let text = backend_error_at_connect(RedisStorage::builder(&url)).await;
    assert!(
        text.to_lowercase().contains("certificate"),
        "the error names the certificate: {text}"
    );
}

/// A CA that did not sign the server's certificate is no better than none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ca_is_a_typed_error_at_connect() {
    let Some((url, _)) = tls_server("wrong CA") else {
        return;
    };
    // A self-signed certificate unrelated to the test CA (generated once with openssl).
    let other_ca = include_bytes!("data/unrelated-ca.pem").to_vec();
    let text =
        backend_error_at_connect(RedisStorage::builder(&url).tls_root_certificates(other_ca)).await;
    assert!(
        text.to_lowercase().contains("certificate"),
        "the error names the certificate: {text}"
    );
}

/// `#insecure` (no verification) is refused: this build leaves the redis crate's
/// `tls-rustls-insecure` feature off. No server needed: the refusal comes before connecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_fragment_is_refused() {
    let text =
        backend_error_at_connect(RedisStorage::builder("rediss://127.0.0.1:1/0#insecure")).await;
    assert!(text.contains("insecure"), "{text}");
}

/// Certificates with a URI that does not use TLS are a configuration error, not a silent
/// plain-text connection. No server needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_without_tls_are_refused() {
    let ca = include_bytes!("data/unrelated-ca.pem").to_vec();
    for url in [
        "redis://127.0.0.1:1",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
        "redis+sentinel://127.0.0.1:1/mymaster",
    ] {
        let text =
            backend_error_at_connect(RedisStorage::builder(url).tls_root_certificates(ca.clone()))
                .await;
        assert!(text.contains("TLS"), "{url}: {text}");
    }
}

/// A root "certificate" that is not PEM is refused at connect with a typed error naming it,
/// before any connection attempt (nothing listens on port 1). No server needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ca_is_a_typed_error() {
    let text = backend_error_at_connect(
        RedisStorage::builder("rediss://127.0.0.1:1").tls_root_certificates(b"not a pem".to_vec()),
    )
    .await;
    assert!(text.contains("certificate"), "{text}");
}
