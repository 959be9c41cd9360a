//! The public options of a limiter that other modules read: the rate-limit header names, the
//! `Retry-After` format and the failure mode.

use axum::http::{HeaderName, StatusCode};

/// The names of the rate-limit response headers (Flask-Limiter's `header_name_mapping`):
/// limiter-core's [`HeaderNames`](limiter_core::model::HeaderNames) with typed names.
pub type HeaderNames = limiter_core::model::HeaderNames<HeaderName>;

/// The format of the `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryAfter {
    /// Seconds until the reset: `Retry-After: 60` (the default).
    #[default]
    DeltaSeconds,
    /// An HTTP-date: `Retry-After: Fri, 27 Nov 2026 11:26:09 GMT`.
    HttpDate,
}

/// What a request gets when the storage fails and no fallback applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Answer with this status (Flask-Limiter's default is a 500), without running the handler.
    FailClosed(StatusCode),
    /// Let the request through unlimited (Flask-Limiter's `swallow_errors = True`).
    FailOpen,
}

impl Default for FailureMode {
    fn default() -> Self {
        FailureMode::FailClosed(StatusCode::INTERNAL_SERVER_ERROR)
    }
}
