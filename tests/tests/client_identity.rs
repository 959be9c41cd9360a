//! Client identity under attack, over real HTTP (issue 13): each test is an attack on the keys
//! of an app behind a trusted proxy (the test client, 127.0.0.1, plays the proxy and writes the
//! header as a proxy would append to it), or a misconfiguration that must not share one bucket.

use axum::http::Method;
use limiter_axum::routing::get;
use limiter_axum::{
    get_remote_address, key_fn, ForwardedKey, KeyFunc, Limiter, ProxyHeader, Router,
};
use limiter_tests::{serve, serve_limited, Server};
use std::borrow::Cow;
use std::net::SocketAddr;

async fn ok() -> &'static str {
    "ok"
}

/// The behind-proxy example's configuration: the proxy is 127.0.0.1, `2 per minute`.
fn behind_proxy() -> ForwardedKey {
    ForwardedKey::new().trust_proxy("127.0.0.1/32".parse().unwrap())
}

async fn app(key: impl KeyFunc) -> axum::Router {
    let limiter = limiter_tests::build_limiter(
        Limiter::new(key).default_limits(["2 per minute"]),
        module_path!(),
    )
    .await;
    Router::new()
        .route("/", get(ok))
        .with_limiter(&limiter)
        .unwrap()
}

/// The statuses of one request per header set.
async fn statuses(server: &Server, requests: &[Vec<(&str, String)>]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for headers in requests {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        statuses.push(server.request(Method::GET, "/", &headers).await.status);
    }
    statuses
}

/// A client sends one non-ASCII byte as its `X-Forwarded-For` (the proxy appends the real
/// address) and its own `Forwarded`, fresh each time: the appended address is its key.
#[tokio::test]
async fn malformed_x_forwarded_for_does_not_fall_through_to_forwarded() {
    let server = serve(app(behind_proxy()).await).await;
    let requests: Vec<_> = (1..=4)
        .map(|n| {
            vec![
                ("x-forwarded-for", "\u{e9}, 203.0.113.9".to_owned()),
                ("forwarded", format!("for=9.9.9.{n}")),
            ]
        })
        .collect();
    assert_eq!(statuses(&server, &requests).await, [200, 200, 429, 429]);
}

/// Behind a proxy that sets only `Forwarded`, a client's own `X-Forwarded-For` is not read.
#[tokio::test]
async fn only_the_configured_header_is_read() {
    let server = serve(app(behind_proxy().header(ProxyHeader::Forwarded)).await).await;
    let requests: Vec<_> = (1..=4)
        .map(|n| {
            vec![
                ("x-forwarded-for", format!("8.8.8.{n}")),
                ("forwarded", "for=203.0.113.9;proto=http".to_owned()),
            ]
        })
        .collect();
    assert_eq!(statuses(&server, &requests).await, [200, 200, 429, 429]);
}

/// Entries with a port or brackets are the proxy's: the client's entry to their left never wins.
#[tokio::test]
async fn entries_with_ports_and_brackets_are_read() {
    let server = serve(app(behind_proxy()).await).await;
    let with_port: Vec<_> = (1..=3)
        .map(|n| vec![("x-forwarded-for", format!("1.1.1.{n}, 203.0.113.9:4711"))])
        .collect();
    assert_eq!(statuses(&server, &with_port).await, [200, 200, 429]);
    let bracketed: Vec<_> = (1..=3)
        .map(|n| vec![("x-forwarded-for", format!("1.1.1.{n}, [2001:db8::9]"))])
        .collect();
    assert_eq!(statuses(&server, &bracketed).await, [200, 200, 429]);
    let rfc7239: Vec<_> = (1..=3)
        .map(|n| {
            vec![(
                "forwarded",
                format!("for=1.1.1.{n}, for=\"[2001:db8:1::9]:4711\""),
            )]
        })
        .collect();
    let server = serve(app(behind_proxy().header(ProxyHeader::Forwarded)).await).await;
    assert_eq!(statuses(&server, &rfc7239).await, [200, 200, 429]);
}

/// A server bound on `[::]` sees its IPv4 proxy as `::ffff:127.0.0.1`: the `127.0.0.1/32` rule
/// still trusts it, so clients keep their own keys instead of sharing the proxy's.
#[tokio::test]
async fn dual_stack_server_behind_an_ipv4_proxy() {
    let Ok(listener) = tokio::net::TcpListener::bind("[::]:0").await else {
        println!("SKIPPED: no IPv6 on this host");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let app = app(behind_proxy()).await;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let server = Server::at(SocketAddr::from(([127, 0, 0, 1], port)));
    let client = |ip: &str| vec![("x-forwarded-for", ip.to_owned())];
    let requests = [
        client("203.0.113.1"),
        client("203.0.113.1"),
        client("203.0.113.1"),
        client("203.0.113.2"),
    ];
    assert_eq!(statuses(&server, &requests).await, [200, 200, 429, 200]);
}

/// An IPv6 client rotating through its /56 stays one client; the next /56 is another.
#[tokio::test]
async fn ipv6_rotation_inside_a_56_is_one_client() {
    let server = serve(app(behind_proxy()).await).await;
    let client = |ip: &str| vec![("x-forwarded-for", ip.to_owned())];
    let requests = [
        client("2001:db8:0:1200::1"),
        client("2001:db8:0:12ff:ffff::2"),
        client("2001:db8:0:1234:abcd::3"),
        client("2001:db8:0:1300::1"),
    ];
    assert_eq!(statuses(&server, &requests).await, [200, 200, 429, 200]);
}

/// Served without `ConnectInfo`, the peer is unknown: a 500 (and a logged error naming the fix),
/// never one bucket shared by every client.
#[tokio::test]
async fn missing_connect_info_is_an_error_not_a_shared_bucket() {
    for app in [app(get_remote_address).await, app(behind_proxy()).await] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::at(listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let requests = vec![Vec::new(); 3];
        assert_eq!(statuses(&server, &requests).await, [500, 500, 500]);
    }
}

/// A client cannot store keys of any size: keys over the maximum length are counted under their
/// digest (the same for the same key), shorter ones as they are.
#[tokio::test]
async fn long_keys_are_digested() {
    let router = Router::new().route("/", get(ok));
    let (limiter, server) = serve_limited(
        Limiter::new(key_fn(|request| {
            let key = request.headers().get("x-api-key").map(|v| v.as_bytes());
            Cow::Owned(String::from_utf8_lossy(key.unwrap_or_default()).into_owned())
        }))
        .default_limits(["2 per minute"])
        .max_key_length(100),
        router,
        module_path!(),
    )
    .await;
    let long = "k".repeat(300_000);
    let other = "j".repeat(300_000);
    let requests = [
        vec![("x-api-key", long.clone())],
        vec![("x-api-key", long.clone())],
        vec![("x-api-key", long.clone())],
        vec![("x-api-key", other)],
    ];
    assert_eq!(statuses(&server, &requests).await, [200, 200, 429, 200]);
    let limit: limiter_axum::RateLimit = "2/minute".parse().unwrap();
    let raw = limiter
        .rate_limiter()
        .window_stats(&limit, &[long.as_str(), "ok"])
        .await
        .unwrap();
    assert_eq!(raw.remaining, 2, "the long key itself is never stored");
    let short = "s".repeat(100);
    let requests = [vec![("x-api-key", short.clone())]];
    assert_eq!(statuses(&server, &requests).await, [200]);
    let stored = limiter
        .rate_limiter()
        .window_stats(&limit, &[short.as_str(), "ok"])
        .await
        .unwrap();
    assert_eq!(
        stored.remaining, 1,
        "a key within the maximum keeps its layout"
    );
}
