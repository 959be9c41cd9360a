//! Key functions: who a request is counted against.
//!
//! * `value.rs`: [`Key`], the key as the limiter reads it (inline addresses, long keys digested
//!   by `digest.rs`);
//! * `remote.rs`: the peer address from `ConnectInfo` ([`get_remote_address`]) and the error
//!   when it is missing;
//! * `forwarded_key.rs`: [`ForwardedKey`], the client behind trusted proxies, which reads
//!   `proxies.rs` (the trusted networks), `header.rs` (the header, right to left), `node.rs`
//!   (RFC 7239's node syntax) and `ipv6.rs` (IPv6 clients grouped by network);
//! * `async_key.rs`: async key functions ([`LimiterBuilder::async_key_func`](crate::LimiterBuilder::async_key_func)).

mod async_key;
mod digest;
mod forwarded_key;
mod header;
mod ipv6;
mod node;
mod proxies;
mod remote;
mod value;

pub(crate) use async_key::{boxed_async_key_fn, with_async_key, AsyncKeyFn, ComputedKeyFunc};
pub(crate) use digest::DIGEST_LEN;
pub use forwarded_key::ForwardedKey;
pub use header::ProxyHeader;
pub use ipnet::IpNet;
pub use remote::get_remote_address;
pub(crate) use remote::report_missing_peer;
pub use value::Key;

use crate::Request;
use std::borrow::Cow;

/// Gives the client key of a request (Flask-Limiter's `key_func`), e.g. [`get_remote_address`].
///
/// Implemented for every `for<'a> Fn(&'a Request) -> Cow<'a, str>`; wrap a closure in
/// [`key_fn`] to help type inference.
///
/// [`get_remote_address`]: crate::get_remote_address
pub trait KeyFunc: Send + Sync + 'static {
    /// The key of this request; an empty key skips the limit (logged), as in Flask-Limiter.
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str>;

    /// The key of this request as the limiter reads it on every request. Defaults to
    /// [`key`](Self::key); key functions that can write their key without allocating (the
    /// built-in ones write IP addresses inline) override it.
    fn request_key<'a>(&self, request: &'a Request) -> Key<'a> {
        Key::from(self.key(request))
    }
}

impl<F> KeyFunc for F
where
    F: for<'a> Fn(&'a Request) -> Cow<'a, str> + Send + Sync + 'static,
{
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        self(request)
    }
}

/// Pins a closure's signature to `for<'a> Fn(&'a Request) -> Cow<'a, str>` so it can be used as
/// a [`KeyFunc`]: `key_fn(|req| Cow::Borrowed(req.uri().path()))`.
pub fn key_fn<F>(f: F) -> F
where
    F: for<'a> Fn(&'a Request) -> Cow<'a, str> + Send + Sync + 'static,
{
    f
}

/// Boxes a key function; [`get_remote_address`] is swapped for the same function written
/// without allocation (a plain function cannot override [`KeyFunc::request_key`]).
///
/// [`KeyFunc::request_key`]: KeyFunc::request_key
pub(crate) fn boxed_key_func<K: KeyFunc>(key_func: K) -> std::sync::Arc<dyn KeyFunc> {
    use std::any::TypeId;
    fn type_id_of<T: 'static>(_: &T) -> TypeId {
        TypeId::of::<T>()
    }
    if TypeId::of::<K>() == type_id_of(&get_remote_address) {
        std::sync::Arc::new(remote::RemoteAddress)
    } else {
        std::sync::Arc::new(key_func)
    }
}

/// The same key for every request: one counter for all clients.
pub fn global_key(_request: &Request) -> Cow<'_, str> {
    Cow::Borrowed("global")
}
