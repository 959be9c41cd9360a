//! Cost known after the response, over real HTTP: `cost_from_response` limits are tested before
//! the handler and charged the cost the handler put on its response (`ResponseCost`, or the
//! builder's header), alone or with `deduct_when`, on every strategy. On memory storage here, on
//! Redis when `response_cost_redis.rs` runs the same tests.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use limiter_axum::routing::post;
use limiter_axum::{
    get_remote_address, limit, Limit, Limiter, LimiterBuilder, ResponseCost, Router, Strategy,
    UnroutedHandlers,
};
use limiter_tests::{serve_limited, Reply, Server};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Builds the limiter (memory storage, or Redis from `response_cost_redis.rs`) and serves `router`.
async fn app(builder: LimiterBuilder, router: Router) -> Server {
    // Each test routes only some of this binary's attributed handlers.
    let builder = builder.unrouted_handlers(UnroutedHandlers::Allow);
    serve_limited(builder, router, module_path!()).await.1
}

/// An LLM-like endpoint: answers with the status of `x-status` (200 by default) and, when the
/// request names one in `x-tokens`, that many tokens as the response's cost.
async fn complete(headers: HeaderMap) -> Response {
    let status = headers
        .get("x-status")
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let tokens = headers
        .get("x-tokens")
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    match tokens {
        Some(tokens) => (status, ResponseCost(tokens), "completion").into_response(),
        None => (status, "completion").into_response(),
    }
}

/// `POST /complete` with these request headers.
async fn call(server: &Server, headers: &[(&str, &str)]) -> Reply {
    server
        .request(axum::http::Method::POST, "/complete", headers)
        .await
}

fn remaining(reply: &Reply) -> Option<&str> {
    reply.header("x-ratelimit-remaining")
}

fn tokens(limit: &str) -> Router {
    Router::new().route(
        "/complete",
        post(complete).limit_with(Limit::new(limit.to_owned()).cost_from_response()),
    )
}

#[tokio::test]
async fn the_response_is_charged_its_cost_and_the_headers_show_it() {
    for strategy in Strategy::ALL {
        let server = app(
            Limiter::new(get_remote_address)
                .strategy(strategy)
                .headers_enabled(true),
            tokens("10 per minute"),
        )
        .await;
        let first = call(&server, &[("x-tokens", "4")]).await;
        assert_eq!(first.status, 200, "{strategy:?}");
        assert_eq!(
            remaining(&first),
            Some("6"),
            "{strategy:?}: after the charge"
        );
        let second = call(&server, &[("x-tokens", "5")]).await;
        assert_eq!(remaining(&second), Some("1"), "{strategy:?}");
        // Without a cost on the response, the limit's own cost (1).
        let third = call(&server, &[]).await;
        assert_eq!(
            (third.status, remaining(&third)),
            (200, Some("0")),
            "{strategy:?}"
        );
        // Nothing remains: refused before the handler.
        let refused = call(&server, &[("x-tokens", "1")]).await;
        assert_eq!(refused.status, 429, "{strategy:?}");
    }
}

#[tokio::test]
async fn a_response_costing_more_than_remains_fills_the_window() {
    for strategy in Strategy::ALL {
        let server = app(
            Limiter::new(get_remote_address)
                .strategy(strategy)
                .headers_enabled(true),
            tokens("10 per minute"),
        )
        .await;
        assert_eq!(
            remaining(&call(&server, &[("x-tokens", "8")]).await),
            Some("2")
        );
        // 2 remain, so the request is admitted; its response costs 7: the window is full.
        let over = call(&server, &[("x-tokens", "7")]).await;
        assert_eq!(over.status, 200, "{strategy:?}");
        assert_eq!(remaining(&over), Some("0"), "{strategy:?}");
        assert_eq!(call(&server, &[]).await.status, 429, "{strategy:?}");
    }
}

#[tokio::test]
async fn a_cost_of_zero_charges_nothing() {
    let server = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        tokens("2 per minute"),
    )
    .await;
    for _ in 0..5 {
        let reply = call(&server, &[("x-tokens", "0")]).await;
        assert_eq!((reply.status, remaining(&reply)), (200, Some("2")));
    }
}

#[tokio::test]
async fn the_limiters_429_is_not_charged_and_the_handler_does_not_run() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let handler = move |headers: HeaderMap| {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            complete(headers).await
        }
    };
    let server = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        Router::new().route(
            "/complete",
            post(handler).limit_with(Limit::new("3 per minute").cost_from_response()),
        ),
    )
    .await;
    assert_eq!(call(&server, &[("x-tokens", "3")]).await.status, 200);
    for _ in 0..3 {
        let refused = call(&server, &[("x-tokens", "3")]).await;
        assert_eq!((refused.status, remaining(&refused)), (429, Some("0")));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_response_cost_header_is_read_and_removed() {
    let server = app(
        Limiter::new(get_remote_address)
            .headers_enabled(true)
            .response_cost_header(HeaderName::from_static("x-tokens-used")),
        Router::new().route(
            "/complete",
            post(|headers: HeaderMap| async move {
                let used = headers.get("x-tokens").cloned();
                let mut response = "completion".into_response();
                if let Some(used) = used {
                    response.headers_mut().insert("x-tokens-used", used);
                }
                response
            })
            .limit_with(Limit::new("10 per minute").cost_from_response()),
        ),
    )
    .await;
    let reply = call(&server, &[("x-tokens", "6")]).await;
    assert_eq!(remaining(&reply), Some("4"));
    assert_eq!(
        reply.header("x-tokens-used"),
        None,
        "taken off the response"
    );
    // A value that is not a number: the limit's own cost.
    let reply = call(&server, &[("x-tokens", "many")]).await;
    assert_eq!(remaining(&reply), Some("3"));
    assert_eq!(reply.header("x-tokens-used"), None);
}

#[tokio::test]
async fn the_extension_wins_over_the_header() {
    let server = app(
        Limiter::new(get_remote_address)
            .headers_enabled(true)
            .response_cost_header(HeaderName::from_static("x-tokens-used")),
        Router::new().route(
            "/complete",
            post(|| async {
                let mut response = (ResponseCost(2), "completion").into_response();
                response
                    .headers_mut()
                    .insert("x-tokens-used", HeaderValue::from_static("7"));
                response
            })
            .limit_with(Limit::new("10 per minute").cost_from_response()),
        ),
    )
    .await;
    let reply = call(&server, &[]).await;
    assert_eq!(remaining(&reply), Some("8"));
    assert_eq!(reply.header("x-tokens-used"), None);
}

fn succeeded(response: &limiter_axum::Response) -> bool {
    response.status().is_success()
}

#[tokio::test]
async fn with_deduct_when_only_accepted_responses_are_charged_their_cost() {
    let server = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        Router::new().route(
            "/complete",
            post(complete).limit_with(
                Limit::new("10 per minute")
                    .cost_from_response()
                    .deduct_when(succeeded),
            ),
        ),
    )
    .await;
    let failed = call(&server, &[("x-tokens", "5"), ("x-status", "500")]).await;
    assert_eq!((failed.status, remaining(&failed)), (500, Some("10")));
    let ok = call(&server, &[("x-tokens", "5")]).await;
    assert_eq!((ok.status, remaining(&ok)), (200, Some("5")));
}

#[limit("10 per minute", cost_from_response)]
async fn attributed() -> (ResponseCost, &'static str) {
    (ResponseCost(3), "completion")
}

#[tokio::test]
async fn the_attribute_option_charges_the_response() {
    let server = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        Router::new().route("/complete", post(attributed)),
    )
    .await;
    let remaining: Vec<_> = [
        call(&server, &[]).await,
        call(&server, &[]).await,
        call(&server, &[]).await,
    ]
    .iter()
    .map(|reply| remaining(reply).map(str::to_owned))
    .collect();
    assert_eq!(
        remaining,
        [Some("7".into()), Some("4".into()), Some("1".into())]
    );
}

#[tokio::test]
async fn a_limit_cost_sets_what_must_remain_before_the_handler() {
    let server = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        Router::new().route(
            "/complete",
            post(complete).limit_with(Limit::new("10 per minute").cost_from_response().cost(4)),
        ),
    )
    .await;
    assert_eq!(
        remaining(&call(&server, &[("x-tokens", "7")]).await),
        Some("3")
    );
    // 3 remain, fewer than the 4 a request must have left: refused.
    assert_eq!(call(&server, &[("x-tokens", "1")]).await.status, 429);
}
