//! Async key functions: a key that needs an `.await` (an API key's owner in a database or a
//! cache). Only a limiter that has one pays for it: its routes' checks wait (a boxed future)
//! and the key is carried to the check in the request's extensions; sync key functions run as
//! before, with nothing added to their path.

use super::KeyFunc;
use crate::Request;
use axum::http::request::Parts;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The boxed async key function of a limiter.
pub(crate) type AsyncKeyFn =
    Arc<dyn Fn(&Parts) -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// Boxes an async key function.
pub(crate) fn boxed_async_key_fn<F, Fut>(key_fn: F) -> AsyncKeyFn
where
    F: Fn(&Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    Arc::new(move |parts| Box::pin(key_fn(parts)))
}

/// The key an async key function gave for this request.
#[derive(Clone)]
struct ComputedKey(String);

/// The limiter's key function when the key is computed asynchronously: the key computed before
/// the check, read from the request's extensions (empty, so the limit is skipped and logged, if
/// it is missing).
pub(crate) struct ComputedKeyFunc;

impl KeyFunc for ComputedKeyFunc {
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        match request.extensions().get::<ComputedKey>() {
            Some(ComputedKey(key)) => Cow::Borrowed(key),
            None => Cow::Borrowed(""),
        }
    }
}

/// Runs the limiter's async key function, if it has one, on the request's parts, and stores the
/// key in its extensions for [`ComputedKeyFunc`].
pub(crate) async fn with_async_key(async_key: Option<&AsyncKeyFn>, request: Request) -> Request {
    let Some(async_key) = async_key else {
        return request;
    };
    let (mut parts, body) = request.into_parts();
    let key = async_key(&parts).await;
    parts.extensions.insert(ComputedKey(key));
    Request::from_parts(parts, body)
}
