//! Bounding every operation by the timeout, and the errors of this backend.

use crate::storage::error::StorageError;
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
