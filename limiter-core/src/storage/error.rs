//! Why a storage operation failed, and which backends this build contains.

use crate::strategy::Strategy;
use std::time::Duration;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The storage URI could not be parsed.
    #[error(transparent)]
    Uri(#[from] crate::uri::UriError),
    /// The strategy cannot be carried out atomically on this backend.
    #[error("the {strategy} strategy is not supported by the {backend} storage")]
    UnsupportedStrategy {
        /// The strategy that was asked for.
        strategy: Strategy,
        /// The backend's scheme name.
        backend: &'static str,
    },
    /// The URI names a backend that this build of `limiter-core` does not contain.
    #[error(
        "the {scheme} storage backend is not built in this version of limiter-core \
         (available: {available}){hint}",
        hint = feature_hint(scheme)
    )]
    NotBuilt {
        /// The scheme of the URI.
        scheme: &'static str,
        /// The schemes this build supports.
        available: &'static str,
    },
    /// The backend could not be reached or answered with an error.
    #[error("{backend} storage error: {source}")]
    Backend {
        /// The backend's scheme name.
        backend: &'static str,
        /// What the client library reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend did not answer in time.
    #[error("{backend} storage did not answer within {timeout:?}")]
    Timeout {
        /// The backend's scheme name.
        backend: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },
    /// A limit asks more than the storage can represent (a count beyond what it counts
    /// exactly, or a window it cannot expire); checked when a limiter starts.
    #[error(
        "the limit '{limit}' is too large for the {backend} storage (at most {} per window, \
         windows of at most {} s)",
        capacity.max_amount,
        capacity.max_window_seconds
    )]
    LimitTooLarge {
        /// The backend's scheme name.
        backend: &'static str,
        /// The limit, as `"{amount} per {multiples} {unit}"`.
        limit: String,
        /// What the storage can represent.
        capacity: super::capacity::Capacity,
    },
    /// Opening the storage failed: the start-up proof (a connection and a real command) did not
    /// pass. `cause` says why in a form a program can match on; the URI has its password masked.
    #[error("cannot open the {backend} storage at {uri}: {cause}: {source}")]
    Connect {
        /// The backend's scheme name.
        backend: &'static str,
        /// The storage URI, its password replaced by `***`.
        uri: String,
        /// What went wrong, classified.
        cause: ConnectFailure,
        /// What the client library reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why a storage could not be opened ([`StorageError::Connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Nothing listens at the address (connection refused, or no such socket file).
    #[error("connection refused")]
    Refused,
    /// The server wants credentials the URI does not give, or refused the ones it gives.
    #[error("authentication failed")]
    Authentication,
    /// The server refused the database the URI names (e.g. a Redis index out of range).
    #[error("bad database")]
    Database,
    /// No answer within the connect timeout.
    #[error("timed out")]
    Timeout,
    /// The TLS handshake or the certificate check failed.
    #[error("TLS failure")]
    Tls,
    /// Anything else the server or the client library reported.
    #[error("error")]
    Other,
}

impl StorageError {
    /// The [`ConnectFailure`] of a [`StorageError::Connect`], `None` for every other error.
    pub fn connect_failure(&self) -> Option<ConnectFailure> {
        match self {
            StorageError::Connect { cause, .. } => Some(*cause),
            _ => None,
        }
    }
}

/// The schemes this build of the crate can open (backends are Cargo features).
fn available_backends() -> &'static str {
    static AVAILABLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AVAILABLE.get_or_init(|| {
        let built = |scheme: &str| match scheme {
            "memory" => true,
            "memcached" => cfg!(feature = "memcached"),
            "rediss" | "valkeys" => cfg!(all(feature = "redis", feature = "tls")),
            mongodb if mongodb.starts_with("mongodb") => cfg!(feature = "mongodb"),
            // redis…, valkey…
            _ => cfg!(feature = "redis"),
        };
        let schemes: Vec<&str> = crate::uri::SCHEMES
            .into_iter()
            .filter(|scheme| built(scheme))
            .collect();
        schemes.join(", ")
    })
}

/// A backend this build lacks, named by `scheme`.
pub(super) fn not_built(scheme: &'static str) -> StorageError {
    StorageError::NotBuilt {
        scheme,
        available: available_backends(),
    }
}

/// How to build in the backend of `scheme` (appended to [`StorageError::NotBuilt`]'s message):
/// the Cargo features it needs, which limiter-axum forwards under the same names.
fn feature_hint(scheme: &str) -> &'static str {
    match scheme {
        "memory" => "",
        "memcached" => {
            "; enable its Cargo feature: limiter-core = { features = [\"memcached\"] } \
             (or the same feature of limiter-axum)"
        }
        "rediss" | "valkeys" => {
            "; enable its Cargo features: limiter-core = { features = [\"redis\", \"tls\"] } \
             (or the same features of limiter-axum)"
        }
        mongodb if mongodb.starts_with("mongodb") => {
            "; enable its Cargo feature: limiter-core = { features = [\"mongodb\"] } \
             (or the same feature of limiter-axum)"
        }
        _ => {
            "; enable its Cargo feature: limiter-core = { features = [\"redis\"] } \
             (or the same feature of limiter-axum)"
        }
    }
}
