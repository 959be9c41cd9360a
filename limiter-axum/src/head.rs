//! [`RequestHead`]: the request as `on_breach` callbacks see it.

use crate::Request;
use axum::http::{Extensions, HeaderMap, Method, Uri, Version};

/// The head of the request that breached a limit (its method, URI, headers and extensions),
/// given to the `*_with_request` breach callbacks: to answer in the format the client accepts,
/// or with its request id. The body is not there: the check runs before anything reads it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestHead<'a> {
    /// The request's method.
    pub method: &'a Method,
    /// The request's URI.
    pub uri: &'a Uri,
    /// The request's HTTP version.
    pub version: Version,
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// The request's extensions (what earlier layers inserted: a request id, an authenticated
    /// user).
    pub extensions: &'a Extensions,
}

impl<'a> RequestHead<'a> {
    /// The head of `request`.
    pub fn of(request: &'a Request) -> Self {
        RequestHead {
            method: request.method(),
            uri: request.uri(),
            version: request.version(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }
}
