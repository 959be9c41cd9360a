//! The errors of the memcached backend.

use crate::storage::error::StorageError;
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
