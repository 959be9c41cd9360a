//! Forwarding headers: any bytes in `X-Forwarded-For`, `Forwarded` or `X-Real-IP` give a key
//! without panicking; a peer that is not trusted is always keyed by its own address.

#![no_main]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use limiter_axum::{ForwardedKey, KeyFunc, ProxyHeader};
use std::net::{IpAddr, SocketAddr};

fn request(peer: IpAddr, lines: &[&[u8]]) -> Request<Body> {
    let mut request = Request::new(Body::empty());
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer, 4711)));
    for (name, line) in ["x-forwarded-for", "forwarded", "x-real-ip"]
        .into_iter()
        .zip(lines)
    {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            request
                .headers_mut()
                .append(HeaderName::from_static(name), value);
        }
    }
    request
}

fuzz_target!(|data: &[u8]| {
    // Three header values separated by 0x00 (never valid inside a header value).
    let lines: Vec<&[u8]> = data.splitn(3, |&byte| byte == 0).collect();
    let trusted = || ForwardedKey::new().trust_proxy("127.0.0.0/8".parse().unwrap());
    let keys = [
        trusted(),
        trusted().header(ProxyHeader::Forwarded),
        trusted().header(ProxyHeader::Single(HeaderName::from_static("x-real-ip"))),
    ];
    let proxy = request(IpAddr::from([127, 0, 0, 1]), &lines);
    let stranger = request(IpAddr::from([192, 0, 2, 1]), &lines);
    for key in &keys {
        assert!(key.client_ip(&proxy).is_some());
        let _ = key.request_key(&proxy);
        assert_eq!(key.client_ip(&stranger), Some(IpAddr::from([192, 0, 2, 1])));
    }
});
