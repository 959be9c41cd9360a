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
    /// Handlers declare `#[limit]`, `#[shared_limit]` or `#[exempt]` but none was routed
    /// through the limiter, so their attributes would do nothing.
    #[error(
        "{} declare rate limits (#[limit], #[shared_limit] or #[exempt]) but never went through the limiter: {}. \
         Route them with limiter_axum::routing::get & co. (not axum::routing) in a limiter_axum::Router, \
         or declare their limits on the layer (Limiter::layer().limit(path, …)); \
         to allow this, build the limiter with .unrouted_handlers(UnroutedHandlers::Allow)",
        if .handlers.len() == 1 { "a handler" } else { "handlers" },
        .handlers.join(", ")
    )]
    UnroutedHandlers {
        /// Each handler, as `module::name (line N)`.
        handlers: Vec<String>,
    },
}
