//! The peer address of a request, from axum's `ConnectInfo`, and what happens without it.

use super::value::Key;
use super::KeyFunc;
use crate::Request;
use axum::extract::ConnectInfo;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

/// The peer's IP address from axum's [`ConnectInfo<SocketAddr>`] (Flask-Limiter's
/// `get_remote_address`), IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, seen by a server bound
/// on `[::]`) given as IPv4. Serve with `into_make_service_with_connect_info::<SocketAddr>()` so
/// the address is known.
///
/// Given to [`Limiter::new`](crate::Limiter::new) or [`Limit::key_func`](crate::Limit::key_func),
/// the limiter calls its allocation-free form
/// ([`KeyFunc::request_key`](crate::KeyFunc::request_key)), and a request without
/// `ConnectInfo` is answered with a 500 and a logged error naming the fix, never counted in one
/// bucket shared by every client. Called directly, without `ConnectInfo`, this function gives
/// `"127.0.0.1"`, as Flask-Limiter's.
///
/// Behind a reverse proxy every client has the proxy's address: use
/// [`ForwardedKey`](crate::ForwardedKey).
pub fn get_remote_address(request: &Request) -> Cow<'_, str> {
    match peer_ip(request) {
        Some(ip) => Key::from_ip(ip).into_cow(),
        None => Cow::Borrowed("127.0.0.1"),
    }
}

/// The peer's address, canonical (IPv4-mapped addresses as IPv4), if the server recorded it.
#[inline]
pub(crate) fn peer_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

/// [`get_remote_address`] as a key function type, with the allocation-free `request_key`.
pub(crate) struct RemoteAddress;

impl KeyFunc for RemoteAddress {
    fn key<'a>(&self, request: &'a Request) -> Cow<'a, str> {
        get_remote_address(request)
    }

    #[inline]
    fn request_key<'a>(&self, request: &'a Request) -> Key<'a> {
        match peer_ip(request) {
            Some(ip) => Key::from_ip(ip),
            None => Key::missing_peer(),
        }
    }
}

/// What the limiter logs when a key function needs the peer address and the app was served
/// without it.
pub(crate) const MISSING_PEER: &str = "the request has no peer address (ConnectInfo<SocketAddr>), \
    so the rate-limit key cannot be told and the request is answered with 500: serve the app with \
    `axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())`, or \
    insert `axum::extract::ConnectInfo(addr)` into the request's extensions when calling the \
    router in process";

/// Logs [`MISSING_PEER`] as an error the first time (the app is misconfigured: every request
/// would log it), and at debug level after.
#[cold]
pub(crate) fn report_missing_peer(path: &str) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if REPORTED.swap(true, Ordering::Relaxed) {
        tracing::debug!(path, "{MISSING_PEER}");
    } else {
        tracing::error!(path, "{MISSING_PEER}");
    }
}
