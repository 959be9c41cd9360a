//! The errors of the memcached backend.

use crate::storage::error::{ConnectFailure, StorageError};
use memcache::MemcacheError;

/// The scheme name reported in errors.
pub(super) const BACKEND: &str = "memcached";

/// The source of the error [`Storage::reset`](crate::Storage::reset) returns on memcached:
/// memcached cannot enumerate keys, and `flush_all` would wipe unrelated data too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "reset is not supported by the memcached storage: memcached cannot list the limiter's keys, \
     and flush_all would also delete every other application's data"
)]
pub struct ResetUnsupported;

/// A value on the server that is not what the limiter stores there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected value {value:?} at key {key:?}")]
pub struct UnexpectedValue {
    /// The memcached key.
    pub key: String,
    /// The value found (truncated to 64 bytes).
    pub value: String,
}

/// A GCRA hit that lost the `cas` race on its key too many times in a row (each loss means
/// another hit on that key was admitted meanwhile).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gave up deciding a GCRA hit on key {key:?}: its cas lost to other writes every time")]
pub struct CasContention {
    /// The memcached key.
    pub key: String,
}

/// An error from one server, naming it.
#[derive(Debug, thiserror::Error)]
#[error("{server}: {error}")]
pub struct ServerError {
    /// The server's name (`host:port` or socket path).
    pub server: String,
    /// What the `memcache` client reported.
    #[source]
    pub error: MemcacheError,
}

/// A [`StorageError::Backend`] of this backend.
pub(super) fn backend_error(error: impl std::error::Error + Send + Sync + 'static) -> StorageError {
    StorageError::Backend {
        backend: BACKEND,
        source: Box::new(error),
    }
}

/// A failed start-up check (`version` on every server) as a [`StorageError::Connect`] for
/// `uri`, its cause read from the error: a refused connection, a timeout, or anything else.
pub(super) fn connect_error(uri: String, error: StorageError) -> StorageError {
    let cause = match &error {
        StorageError::Timeout { .. } => ConnectFailure::Timeout,
        StorageError::Backend { source, .. } if refused(source.as_ref()) => ConnectFailure::Refused,
        _ => ConnectFailure::Other,
    };
    StorageError::Connect {
        backend: BACKEND,
        uri,
        cause,
        source: Box::new(error),
    }
}

/// Whether a refused connection is among `error`'s causes.
fn refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        if let Some(MemcacheError::IOError(io)) = current.downcast_ref::<MemcacheError>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cause = current.source();
    }
    // The connection pool reports its last connection error as text only.
    error.to_string().contains("Connection refused")
}
