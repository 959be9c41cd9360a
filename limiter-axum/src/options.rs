//! The public options of a limiter that other modules read: the rate-limit header names and
//! style, the `Retry-After` format and the failure mode.

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

/// Which rate-limit header fields a limiter sends, when its headers are enabled.
///
/// ```
/// use limiter_axum::HeaderStyle;
/// assert_eq!("ietf".parse::<HeaderStyle>(), Ok(HeaderStyle::Ietf));
/// assert_eq!(HeaderStyle::default(), HeaderStyle::XRateLimit);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderStyle {
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` and `Retry-After`, as Flask-Limiter (the
    /// default): `x-ratelimit`.
    #[default]
    XRateLimit,
    /// The IETF `RateLimit` and `RateLimit-Policy` fields
    /// (draft-ietf-httpapi-ratelimit-headers-11), and `Retry-After` on a 429: `ietf`.
    Ietf,
    /// Both: `both`.
    Both,
}

/// A header style name that is not `x-ratelimit`, `ietf` or `both`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown header style '{0}': expected x-ratelimit, ietf or both")]
pub struct UnknownHeaderStyle(pub String);

impl HeaderStyle {
    /// The style's name, as `RATELIMIT_HEADER_STYLE` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            HeaderStyle::XRateLimit => "x-ratelimit",
            HeaderStyle::Ietf => "ietf",
            HeaderStyle::Both => "both",
        }
    }
}

impl std::str::FromStr for HeaderStyle {
    type Err = UnknownHeaderStyle;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "x-ratelimit" => Ok(HeaderStyle::XRateLimit),
            "ietf" => Ok(HeaderStyle::Ietf),
            "both" => Ok(HeaderStyle::Both),
            _ => Err(UnknownHeaderStyle(name.to_owned())),
        }
    }
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
