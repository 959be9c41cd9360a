//! A rejection given to a gRPC client: a gRPC status rather than an HTTP error, which gRPC
//! clients report only as "unavailable".

use crate::Response;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};

/// gRPC's `RESOURCE_EXHAUSTED`, the status of a rate-limited call.
const RESOURCE_EXHAUSTED: &str = "8";
/// gRPC's `UNAVAILABLE`, for a service unavailable answer (a failing storage's status).
const UNAVAILABLE: &str = "14";
/// gRPC's `INTERNAL`, for any other answer of the limiter (a failing storage's default 500).
const INTERNAL: &str = "13";

/// Whether the request is a gRPC call (`content-type: application/grpc…`).
pub(super) fn is_grpc<B>(request: &axum::http::Request<B>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
}

/// The limiter's rejection of a gRPC call as a trailers-only gRPC response (HTTP 200 with
/// `grpc-status` and `grpc-message`, the rate-limit headers kept). A response that already is a
/// gRPC one (the service's, or an `on_breach` callback's) is left as it is.
pub(super) fn to_grpc_status(response: Response) -> Response {
    let already_grpc = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
    if already_grpc || response.status() == StatusCode::OK {
        return response;
    }
    let (code, message) = match response.status() {
        StatusCode::TOO_MANY_REQUESTS => (RESOURCE_EXHAUSTED, "Too Many Requests"),
        StatusCode::SERVICE_UNAVAILABLE => (UNAVAILABLE, "Service Unavailable"),
        _ => (INTERNAL, "rate limit check failed"),
    };
    let (mut parts, _) = response.into_parts();
    parts.status = StatusCode::OK;
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    parts
        .headers
        .insert("grpc-status", HeaderValue::from_static(code));
    parts
        .headers
        .insert("grpc-message", HeaderValue::from_static(message));
    Response::from_parts(parts, Body::empty())
}
