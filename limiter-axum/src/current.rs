//! Flask-Limiter's `current_limit` / `current_limits` for handlers ([Flask-Limiter's API](https://flask-limiter.readthedocs.io/en/stable/api.html)).

use crate::RequestLimit;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::sync::Arc;

/// The limits evaluated for this request, as an extractor (Flask-Limiter's `current_limits` and
/// `current_limit`). Enable it with
/// [`LimiterBuilder::current_limits(true)`](crate::LimiterBuilder::current_limits).
///
/// [`limits`](Self::limits) lists every limit checked before the handler, smallest window first
/// (declaration order among ties), each with its storage key, what is left and when it resets,
/// counted *after* this request's hit. [`current`](Self::current) is the limit the
/// `X-RateLimit-*` headers report: the smallest-window non-shared limit, else the
/// smallest-window one. Both are empty when nothing was checked (limiter disabled, a request
/// filter matched, an exempt route).
///
/// ```
/// use limiter_axum::CurrentLimits;
///
/// async fn handler(limits: CurrentLimits) -> String {
///     match limits.current() {
///         Some(limit) => format!("{} left of {}", limit.remaining, limit.limit),
///         None => "unlimited".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentLimits {
    inner: Arc<Inner>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Inner {
    limits: Vec<RequestLimit>,
    current: Option<usize>,
}

impl CurrentLimits {
    pub(crate) fn new(limits: Vec<RequestLimit>, current: Option<usize>) -> Self {
        CurrentLimits {
            inner: Arc::new(Inner { limits, current }),
        }
    }

    /// Every limit evaluated for this request, in ascending window order (`current_limits`).
    pub fn limits(&self) -> &[RequestLimit] {
        &self.inner.limits
    }

    /// The header limit (`current_limit`), if any limit was evaluated.
    pub fn current(&self) -> Option<&RequestLimit> {
        self.inner.current.and_then(|i| self.inner.limits.get(i))
    }
}

/// The rejection of [`CurrentLimits`] on a request the limiter did not annotate: a 500 that
/// names the missing option (or the missing limiter).
#[derive(Debug, Clone, Copy)]
pub struct CurrentLimitsMissing;

impl axum::response::IntoResponse for CurrentLimitsMissing {
    fn into_response(self) -> axum::response::Response {
        tracing::error!(
            "CurrentLimits used by a handler, but the request carries none: enable \
             LimiterBuilder::current_limits(true) and serve the route through Router::with_limiter"
        );
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "CurrentLimits needs LimiterBuilder::current_limits(true)",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentLimits {
    type Rejection = CurrentLimitsMissing;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentLimits>()
            .cloned()
            .ok_or(CurrentLimitsMissing)
    }
}
