//! [`BuildError`]: why a limiter, or a router given to it, could not be built.

use limiter_core::{ParseError, StorageError};

/// Why a limiter (or a router given to it) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A limit string did not parse.
    #[error("invalid {place} limit: {error}")]
    InvalidLimit {
        /// Where the limit was declared (`default`, `application`, `meta`, a route or router).
        place: String,
        /// The parse error (it quotes the string).
        #[source]
        error: ParseError,
    },
    /// A limit asks more than the storage can represent (see
    /// [`Storage::check_limit`](limiter_core::Storage::check_limit)).
    #[error("{place} limit: {error}")]
    LimitTooLarge {
        /// Where the limit was declared (`default`, `application`, `meta`, a route or router).
        place: String,
        /// The storage's refusal, with what it can represent.
        #[source]
        error: StorageError,
    },
    /// The storage could not be opened.
    #[error("rate limit storage: {0}")]
    Storage(#[from] StorageError),
    /// A `RATELIMIT_*` environment variable has a bad value.
    #[error("environment variable {name}: {message}")]
    Environment {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
}
