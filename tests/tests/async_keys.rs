//! Async key functions (issue 14, item 4), over real HTTP: the key comes from an async lookup
//! (an API key's owner, as from a database), so two API keys of one owner share a count.

use axum::http::request::Parts;
use axum::http::Method;
use limiter_axum::routing::get;
use limiter_axum::{global_key, Limiter, Router};
use limiter_tests::serve_limited;
use std::time::Duration;

async fn ok() -> &'static str {
    "ok"
}

/// A lookup that takes a while, as a database would.
async fn owner_of(api_key: Option<String>) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    match api_key.as_deref() {
        Some("ann-1" | "ann-2") => "ann".to_owned(),
        Some("bob-1") => "bob".to_owned(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn the_key_comes_from_an_async_lookup() {
    let router = Router::new().route("/", get(ok));
    let (limiter, server) = serve_limited(
        Limiter::new(global_key)
            .async_key_func(|parts: &Parts| {
                let api_key = parts
                    .headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                owner_of(api_key)
            })
            .default_limits(["2 per minute"]),
        router,
        module_path!(),
    )
    .await;
    let mut statuses = Vec::new();
    for key in [
        "ann-1", "ann-2", "ann-1", "bob-1", "nobody", "nobody", "nobody",
    ] {
        let reply = server
            .request(Method::GET, "/", &[("x-api-key", key)])
            .await;
        statuses.push(reply.status);
    }
    // ann's two keys share one count; bob has his own; an empty key skips the limit.
    assert_eq!(statuses, [200, 200, 429, 200, 200, 200, 200]);
    let limit: limiter_axum::RateLimit = "2/minute".parse().unwrap();
    let stats = limiter
        .rate_limiter()
        .window_stats(&limit, &["ann", "ok"])
        .await
        .unwrap();
    assert_eq!(stats.remaining, 0);
}
