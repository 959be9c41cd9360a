//! Bounding every operation by the timeout, and the errors of this backend.

use crate::storage::error::{ConnectFailure, StorageError};
use crate::uri::StorageUri;
use redis::{RedisError, RedisResult};
use std::future::Future;
use std::time::Duration;

/// Runs `operation` within `timeout`, mapping its errors to [`StorageError`].
pub(super) async fn bounded<T>(
    backend: &'static str,
    timeout: Duration,
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) if error.is_timeout() => Err(StorageError::Timeout { backend, timeout }),
        Ok(Err(error)) => Err(backend_error(backend, error)),
        Err(_) => Err(StorageError::Timeout { backend, timeout }),
    }
}

/// A [`StorageError::Backend`] of the backend named `backend`.
pub(super) fn backend_error(
    backend: &'static str,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StorageError {
    StorageError::Backend {
        backend,
        source: error.into(),
    }
}

/// A reply the scripts never give.
pub(super) fn unexpected(what: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Client,
        "unexpected reply from the rate-limit script",
        what.to_owned(),
    ))
}

/// The error a call that ran out of time gives: a timeout, which [`bounded`] reports as
/// [`StorageError::Timeout`] (a coalesced call's requests hear of it, not of a stopped task).
pub(super) fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the rate-limit script call timed out",
    ))
}

/// What went wrong when opening the storage, from the client library's error.
pub(super) fn connect_failure(error: &RedisError) -> ConnectFailure {
    if error.is_connection_refusal() {
        return ConnectFailure::Refused;
    }
    if error.is_timeout() {
        return ConnectFailure::Timeout;
    }
    if error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
    {
        return ConnectFailure::Authentication;
    }
    // redis-rs reports a failed `SELECT` as "refused to switch database"; the server says
    // "DB index is out of range".
    let text = error.to_string();
    if text.contains("switch database") || text.contains("DB index") {
        return ConnectFailure::Database;
    }
    if super::connection::is_tls_error(error) {
        return ConnectFailure::Tls;
    }
    ConnectFailure::Other
}

/// A [`StorageError::Connect`] for `uri`, classified from `error`.
pub(super) fn connect_error(
    backend: &'static str,
    uri: &StorageUri,
    error: RedisError,
) -> StorageError {
    StorageError::Connect {
        backend,
        uri: uri.redacted(),
        cause: connect_failure(&error),
        source: error.into(),
    }
}

/// A [`StorageError::Connect`] for a start-up proof that did not finish within `timeout`.
pub(super) fn connect_timeout(
    backend: &'static str,
    uri: &StorageUri,
    timeout: Duration,
) -> StorageError {
    StorageError::Connect {
        backend,
        uri: uri.redacted(),
        cause: ConnectFailure::Timeout,
        source: format!("no answer within {timeout:?}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{bounded, timed_out};
    use crate::storage::error::StorageError;
    use std::time::Duration;

    #[tokio::test]
    async fn a_coalesced_call_that_times_out_reads_as_a_timeout() {
        let timeout = Duration::from_millis(5);
        let reported = bounded("redis", timeout, async { Err::<(), _>(timed_out()) }).await;
        assert!(
            matches!(
                reported,
                Err(StorageError::Timeout {
                    backend: "redis",
                    ..
                })
            ),
            "{reported:?}"
        );
    }
}
