//! Every response the check gives instead of the handler's: the 429 of a breached limit (or
//! what an `on_breach` callback returns instead), the 429 of a meta limit, and the empty status
//! of a failing storage.

use super::headers::reset_header;
use crate::core::Core;
use crate::decl::Limit;
use crate::options::FailureMode;
use crate::{RequestHead, RequestLimit, Response};
use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use limiter_core::{Decision, RateLimit, WindowStats};

/// The limit a request breached, as the 429 and the callbacks need it.
pub(crate) struct Breach<'a> {
    /// The breached limit's declaration.
    pub(crate) limit: &'a Limit,
    pub(crate) rate: &'a RateLimit,
    /// The bucket, for the log line.
    pub(crate) scope: &'a str,
    /// The client key, for the log line.
    pub(crate) key: &'a str,
    /// The storage identifiers (`[prefix,] key, scope`).
    pub(crate) identifiers: &'a [&'a str],
    pub(crate) shared: bool,
    pub(crate) decision: Decision,
    /// The request's head, for the callbacks.
    pub(crate) head: &'a RequestHead<'a>,
}

/// The 429 of a breached limit, without the rate-limit headers: the response of the last
/// `on_breach` callback (the limiter's, then the limit's) that returned one, else Flask's page
/// for the limit — `static_body` when the limit has one precomputed.
pub(crate) fn breach_response(
    core: &Core,
    breach: &Breach<'_>,
    static_body: impl FnOnce() -> Option<Bytes>,
) -> Response {
    tracing::info!(
        "ratelimit {} ({}) exceeded at endpoint: {}",
        breach.rate,
        breach.key,
        breach.scope
    );
    let mut custom = None;
    let callbacks = core.on_breach.iter().chain(breach.limit.on_breach.iter());
    if callbacks.clone().next().is_some() {
        let request_limit = request_limit(
            breach.rate,
            breach.identifiers,
            true,
            breach.shared,
            breach.decision.remaining,
            breach.decision.reset_at,
        );
        for callback in callbacks {
            if let Some(response) = callback(&request_limit, breach.head) {
                custom = Some(response);
            }
        }
    }
    custom.unwrap_or_else(|| {
        html_429(static_body().unwrap_or_else(|| {
            too_many_requests_body(breach.limit.error_message.as_deref(), breach.rate)
        }))
    })
}

/// The 429 of a meta limit the client has breached too often, without the rate-limit headers:
/// what the meta limit's `on_breach` (else the limiter's `on_meta_breach`) returns, else Flask's
/// page for the meta limit.
pub(crate) fn meta_response(
    core: &Core,
    meta: &Limit,
    rate: &RateLimit,
    identifiers: &[&str],
    stats: WindowStats,
    head: &RequestHead<'_>,
) -> Response {
    let request_limit = request_limit(
        rate,
        identifiers,
        true,
        true,
        stats.remaining,
        stats.reset_at,
    );
    let custom = meta
        .on_breach
        .as_ref()
        .or(core.on_meta_breach.as_ref())
        .and_then(|callback| callback(&request_limit, head));
    custom.unwrap_or_else(|| html_429(too_many_requests_body(meta.error_message.as_deref(), rate)))
}

/// What a request gets when the storage failed (`error`): `None` to serve it unlimited
/// ([`FailureMode::FailOpen`]), else the failure status, without the handler.
pub(crate) fn storage_failure(
    core: &Core,
    endpoint: &str,
    error: &dyn std::fmt::Display,
) -> Option<Response> {
    match core.failure_mode {
        FailureMode::FailOpen => {
            tracing::error!(%error, endpoint = %endpoint, "Failed to rate limit. Swallowing error");
            None
        }
        FailureMode::FailClosed(status) => {
            tracing::error!(%error, endpoint = %endpoint, "Failed to rate limit; failing closed with {status}");
            Some(status_response(status))
        }
    }
}

/// An empty response with `status`.
pub(crate) fn status_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A limit as `on_breach` callbacks and [`CurrentLimits`](crate::CurrentLimits) see it.
pub(crate) fn request_limit(
    rate: &RateLimit,
    identifiers: &[&str],
    breached: bool,
    shared: bool,
    remaining: u64,
    reset_at: limiter_core::Timestamp,
) -> RequestLimit {
    RequestLimit {
        limit: *rate,
        key: rate.key_for(identifiers),
        breached,
        shared,
        remaining,
        reset_at: reset_header(reset_at),
    }
}

/// Werkzeug's 429 page, byte for byte (Flask-Limiter's default 429), with the description HTML-escaped.
pub(crate) fn too_many_requests_body(message: Option<&str>, rate: &RateLimit) -> Bytes {
    let description = match message {
        Some(message) => message.to_owned(),
        None => rate.to_string(),
    };
    let mut escaped = String::with_capacity(description.len());
    for c in description.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&#34;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    Bytes::from(format!(
        "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n\
         <h1>Too Many Requests</h1>\n<p>{escaped}</p>\n"
    ))
}

/// A 429 with an HTML `body`.
fn html_429(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
