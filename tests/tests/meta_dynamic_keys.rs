//! Meta limits, dynamic limits and key functions over real HTTP.

use axum::http::Method;
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, key_fn, ForwardedKey, Limit, Limiter, Router};
use limiter_tests::{flask_429, serve, serve_limited};
use std::borrow::Cow;

async fn ok() -> &'static str {
    "ok"
}

#[tokio::test]
async fn meta_limits_ban_repeated_offenders_everywhere() {
    let router = Router::new()
        .route("/a", get(ok).limit("1 per minute"))
        .route("/b", get(ok));
    let (_limiter, server) = serve_limited(
        Limiter::new(get_remote_address)
            .default_limits(["100 per minute"])
            .meta_limits(["2 per hour"]),
        router,
        module_path!(),
    )
    .await;
    assert_eq!(server.statuses("/a", 3).await, [200, 429, 429]);
    let reply = server.get("/b").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.body, flask_429("2 per 1 hour"));
}

#[tokio::test]
async fn dynamic_limits_per_user_tier() {
    let limiter =
        limiter_tests::build_limiter(Limiter::new(get_remote_address), module_path!()).await;
    let tiered = Limit::dynamic(|request| {
        match request
            .headers()
            .get("x-tier")
            .and_then(|v| v.to_str().ok())
        {
            Some("gold") => Cow::Borrowed("3 per minute"),
            _ => Cow::Borrowed("1 per minute"),
        }
    })
    .key_func(key_fn(|request| {
        Cow::Borrowed(
            request
                .headers()
                .get("x-user")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("anonymous"),
        )
    }));
    let app = Router::new()
        .route("/t", get(ok).limit_with(tiered))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let gold = [("x-tier", "gold"), ("x-user", "ann")];
    let free = [("x-user", "bob")];
    for expected in [200, 200, 200, 429] {
        assert_eq!(
            server.request(Method::GET, "/t", &gold).await.status,
            expected
        );
    }
    assert_eq!(server.request(Method::GET, "/t", &free).await.status, 200);
    let reply = server.request(Method::GET, "/t", &free).await;
    assert_eq!(reply.body, flask_429("1 per 1 minute"));
    assert_eq!(limiter.routes()[0].limits[0].limit, "<dynamic>");
}

#[tokio::test]
async fn forwarded_headers_are_ignored_unless_the_proxy_is_trusted() {
    // No trusted proxy: X-Forwarded-For cannot be used to dodge the limit.
    let router = Router::new().route("/a", get(ok));
    let (_limiter, server) = serve_limited(
        Limiter::new(ForwardedKey::new()).default_limits(["1 per minute"]),
        router,
        module_path!(),
    )
    .await;
    let spoof1 = [("x-forwarded-for", "1.1.1.1")];
    let spoof2 = [("x-forwarded-for", "2.2.2.2")];
    assert_eq!(server.request(Method::GET, "/a", &spoof1).await.status, 200);
    assert_eq!(server.request(Method::GET, "/a", &spoof2).await.status, 429);

    // The test client connects from 127.0.0.1, trusted here: the right-most untrusted address
    // is the client, so a forged left-most entry does not matter.
    let router = Router::new().route("/a", get(ok));
    let (_limiter, server) = serve_limited(
        Limiter::new(ForwardedKey::new().trust_proxy("127.0.0.1/32".parse().unwrap()))
            .default_limits(["1 per minute"]),
        router,
        module_path!(),
    )
    .await;
    let client = [("x-forwarded-for", "9.9.9.9, 1.2.3.4")];
    let forged = [("x-forwarded-for", "8.8.8.8, 1.2.3.4")];
    let other = [("x-forwarded-for", "5.6.7.8")];
    let rfc7239 = [("forwarded", "for=\"[2001:db8::1]:4711\"")];
    assert_eq!(server.request(Method::GET, "/a", &client).await.status, 200);
    assert_eq!(server.request(Method::GET, "/a", &forged).await.status, 429);
    assert_eq!(server.request(Method::GET, "/a", &other).await.status, 200);
    assert_eq!(
        server.request(Method::GET, "/a", &rfc7239).await.status,
        200
    );
    assert_eq!(
        server.request(Method::GET, "/a", &rfc7239).await.status,
        429
    );
}

#[tokio::test]
async fn get_remote_address_uses_the_peer() {
    let router = Router::new().route("/a", get(ok));
    let (limiter, server) = serve_limited(
        Limiter::new(get_remote_address).default_limits(["1 per minute"]),
        router,
        module_path!(),
    )
    .await;
    server.get("/a").await;
    let limit: limiter_axum::RateLimit = "1/minute".parse().unwrap();
    let stats = limiter
        .rate_limiter()
        .window_stats(&limit, &["127.0.0.1", "ok"])
        .await
        .unwrap();
    assert_eq!(stats.remaining, 0);
}
