//! Route-level features over real HTTP: headers, application limits, key prefix, overriding,
//! stacking, methods, per-method, cost, shared scopes, exempt_when, deduct_when, error messages,
//! on_breach, fail_on_first_breach, request filters, enabled(false), limits declared in code.

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use limiter_axum::routing::{get, post};
use limiter_axum::{
    get_remote_address, limit, shared_limit, Limit, Limiter, LimiterBuilder, Request, RequestLimit,
    Response, RetryAfter, Router, UnroutedHandlers,
};
use limiter_tests::{flask_429, serve_limited, Server};

async fn ok() -> &'static str {
    "ok"
}

/// Builds the limiter — on memory storage here, on Redis when `features_redis.rs` runs these
/// same tests — and serves the router over real HTTP.
async fn app(builder: LimiterBuilder, router: Router) -> (Limiter, Server) {
    // Each test routes a few of this binary's handlers: the others are not reported.
    let builder = builder.unrouted_handlers(UnroutedHandlers::Allow);
    serve_limited(builder, router, module_path!()).await
}

#[tokio::test]
async fn headers_follow_flask_limiter() {
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .default_limits(["200 per day", "50 per hour"])
            .headers_enabled(true),
        Router::new().route("/fast", get(ok)),
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reply = server.get("/fast").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-ratelimit-limit"), Some("50"));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("49"));
    let reset: u64 = reply.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        (now + 3600..=now + 3602).contains(&reset),
        "{reset} vs {now}"
    );
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((3598..=3600).contains(&retry), "{retry}");
}

#[limit("1 per day")]
async fn slow() -> &'static str {
    "24"
}

#[tokio::test]
async fn headers_on_the_429_and_http_date() {
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .headers_enabled(true)
            .retry_after(RetryAfter::HttpDate),
        Router::new().route("/slow", get(slow)),
    )
    .await;
    assert_eq!(server.get("/slow").await.status, 200);
    let reply = server.get("/slow").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("x-ratelimit-limit"), Some("1"));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("0"));
    assert!(reply.header("retry-after").unwrap().ends_with(" GMT"));
}

#[tokio::test]
async fn headers_are_off_by_default() {
    let (_, server) = app(
        Limiter::new(get_remote_address).default_limits(["5/minute"]),
        Router::new().route("/a", get(ok)),
    )
    .await;
    assert!(server.get("/a").await.header("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn application_limits_share_one_global_counter() {
    let (limiter, server) = app(
        Limiter::new(get_remote_address)
            .application_limits(["3 per minute"])
            .key_prefix("pfx"),
        Router::new().route("/a", get(ok)).route("/b", get(ok)),
    )
    .await;
    assert_eq!(server.get("/a").await.status, 200);
    assert_eq!(server.get("/b").await.status, 200);
    assert_eq!(server.get("/a").await.status, 200);
    let reply = server.get("/b").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.body, flask_429("3 per 1 minute"));
    // The key is LIMITER/pfx/127.0.0.1/global/3/1/minute.
    let limit: limiter_axum::RateLimit = "3 per minute".parse().unwrap();
    let stats = limiter
        .rate_limiter()
        .window_stats(&limit, &["pfx", "127.0.0.1", "global"])
        .await
        .unwrap();
    assert_eq!(stats.remaining, 0);
}

#[limit("5 per minute", override_defaults = false)]
async fn combined() -> &'static str {
    "combined"
}

#[limit("10 per minute")]
#[limit("2 per hour")]
async fn stacked() -> &'static str {
    "stacked"
}

#[tokio::test]
async fn override_defaults_false_and_stacked_limits() {
    let (limiter, server) = app(
        Limiter::new(get_remote_address).default_limits(["3 per hour"]),
        Router::new()
            .route("/combined", get(combined))
            .route("/stacked", get(stacked)),
    )
    .await;
    assert_eq!(server.statuses("/combined", 4).await, [200, 200, 200, 429]);
    let reply = server.get("/stacked").await;
    assert_eq!(reply.status, 200);
    assert_eq!(server.get("/stacked").await.status, 200);
    let reply = server.get("/stacked").await;
    assert_eq!(reply.body, flask_429("2 per 1 hour"));
    let routes = limiter.routes();
    let combined = routes.iter().find(|r| r.endpoint == "combined").unwrap();
    let limits: Vec<&str> = combined.limits.iter().map(|l| l.limit.as_str()).collect();
    assert_eq!(limits, ["3 per 1 hour", "5 per 1 minute"]);
}

#[limit("1 per minute", methods = [POST])]
async fn only_post() -> &'static str {
    "p"
}

#[limit("1 per minute", per_method)]
async fn per_method_handler() -> &'static str {
    "pm"
}

#[tokio::test]
async fn methods_and_per_method() {
    let (limiter, server) = app(
        Limiter::new(get_remote_address).default_limits(["2 per minute"]),
        Router::new()
            .route("/only_post", get(only_post).post(only_post))
            .route("/pm", get(per_method_handler).post(per_method_handler)),
    )
    .await;
    // POST: the route limit; GET: method-exempt, so the defaults apply.
    assert_eq!(
        server.request(Method::POST, "/only_post", &[]).await.status,
        200
    );
    assert_eq!(
        server.request(Method::POST, "/only_post", &[]).await.status,
        429
    );
    assert_eq!(server.statuses("/only_post", 3).await, [200, 200, 429]);
    // Separate counters per method.
    assert_eq!(server.get("/pm").await.status, 200);
    assert_eq!(server.request(Method::POST, "/pm", &[]).await.status, 200);
    assert_eq!(server.get("/pm").await.status, 429);
    let limit: limiter_axum::RateLimit = "1/minute".parse().unwrap();
    let stats = limiter
        .rate_limiter()
        .window_stats(&limit, &["127.0.0.1", "per_method_handler:POST"])
        .await
        .unwrap();
    assert_eq!(stats.remaining, 0);
}

#[limit("5 per minute", cost = 2)]
async fn costly() -> &'static str {
    "c"
}

fn header_cost(request: &Request) -> u64 {
    request
        .headers()
        .get("x-cost")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(1)
}

#[limit("5 per minute", cost = header_cost)]
async fn variable_cost() -> &'static str {
    "v"
}

#[tokio::test]
async fn cost_fixed_and_per_request() {
    let (_, server) = app(
        Limiter::new(get_remote_address),
        Router::new()
            .route("/costly", get(costly))
            .route("/variable", get(variable_cost)),
    )
    .await;
    assert_eq!(server.statuses("/costly", 3).await, [200, 200, 429]);
    let four = [("x-cost", "4")];
    assert_eq!(
        server.request(Method::GET, "/variable", &four).await.status,
        200
    );
    assert_eq!(
        server.request(Method::GET, "/variable", &four).await.status,
        429
    );
    // A fixed window counts rejected hits too (behaviour §7.13): 4 + 4 = 8 > 5, so even a
    // cost-1 request stays rejected until the window ends.
    assert_eq!(server.get("/variable").await.status, 429);
}

#[shared_limit("3 per minute", scope = "grp")]
async fn shared_a() -> &'static str {
    "a"
}

#[limit("3 per minute", scope = "grp", shared)]
async fn shared_b() -> &'static str {
    "b"
}

#[tokio::test]
async fn shared_scopes_share_a_counter() {
    let (limiter, server) = app(
        Limiter::new(get_remote_address),
        Router::new()
            .route("/a", get(shared_a))
            .route("/b", get(shared_b))
            .route("/c", get(ok).shared_limit("3 per minute", "grp")),
    )
    .await;
    assert_eq!(server.get("/a").await.status, 200);
    assert_eq!(server.get("/b").await.status, 200);
    assert_eq!(server.get("/c").await.status, 200);
    assert_eq!(server.get("/a").await.status, 429);
    let limit: limiter_axum::RateLimit = "3/minute".parse().unwrap();
    let stats = limiter
        .rate_limiter()
        .window_stats(&limit, &["127.0.0.1", "grp"])
        .await
        .unwrap();
    assert_eq!(stats.remaining, 0);
}

fn is_admin(request: &Request) -> bool {
    request.headers().contains_key("x-admin")
}

fn server_error(response: &Response) -> bool {
    response.status().is_server_error()
}

#[limit("1 per minute", exempt_when = is_admin)]
async fn admin_exempt() -> &'static str {
    "x"
}

#[limit("1 per minute", deduct_when = server_error)]
async fn flaky(request: Request) -> StatusCode {
    if request.headers().contains_key("x-fail") {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

#[tokio::test]
async fn exempt_when_and_deduct_when() {
    let (_, server) = app(
        Limiter::new(get_remote_address),
        Router::new()
            .route("/admin", get(admin_exempt))
            .route("/flaky", get(flaky)),
    )
    .await;
    let admin = [("x-admin", "1")];
    assert_eq!(server.get("/admin").await.status, 200);
    assert_eq!(server.get("/admin").await.status, 429);
    assert_eq!(
        server.request(Method::GET, "/admin", &admin).await.status,
        200
    );
    // Successes are not counted; the first failure is.
    assert_eq!(server.statuses("/flaky", 3).await, [200, 200, 200]);
    let fail = [("x-fail", "1")];
    assert_eq!(
        server.request(Method::GET, "/flaky", &fail).await.status,
        500
    );
    assert_eq!(server.get("/flaky").await.status, 429);
}

#[limit("1 per minute", error_message = "slow <down>")]
async fn message() -> &'static str {
    "m"
}

fn teapot(limit: &RequestLimit) -> Option<Response> {
    Some((StatusCode::IM_A_TEAPOT, format!("custom {}", limit.limit)).into_response())
}

#[limit("1 per minute", on_breach = teapot)]
async fn custom() -> &'static str {
    "c"
}

#[tokio::test]
async fn error_message_and_on_breach() {
    let (_, server) = app(
        Limiter::new(get_remote_address),
        Router::new()
            .route("/message", get(message))
            .route("/custom", get(custom))
            .route(
                "/json",
                get(ok).limit_with(Limit::new("1 per minute").on_breach(|limit| {
                    Some(
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("content-type", "application/json")],
                            format!("{{\"limit\":\"{}\"}}", limit.limit),
                        )
                            .into_response(),
                    )
                })),
            ),
    )
    .await;
    server.get("/message").await;
    assert_eq!(
        server.get("/message").await.body,
        flask_429("slow &lt;down&gt;")
    );
    server.get("/custom").await;
    let reply = server.get("/custom").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (418, "custom 1 per 1 minute")
    );
    server.get("/json").await;
    let reply = server.get("/json").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.body, "{\"limit\":\"1 per 1 minute\"}");
}

#[tokio::test]
async fn limiter_level_on_breach() {
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .default_limits(["1 per minute"])
            .on_breach(|_| Some((StatusCode::SERVICE_UNAVAILABLE, "busy").into_response())),
        Router::new().route("/a", get(ok)),
    )
    .await;
    server.get("/a").await;
    let reply = server.get("/a").await;
    assert_eq!((reply.status, reply.body.as_str()), (503, "busy"));
}

#[tokio::test]
async fn fail_on_first_breach_false_counts_every_limit() {
    for (fail_first, expected_remaining) in [(true, 4), (false, 2)] {
        let (limiter, server) = app(
            Limiter::new(get_remote_address)
                .default_limits(["1 per second", "5 per minute"])
                .fail_on_first_breach(fail_first),
            Router::new().route("/a", get(ok)),
        )
        .await;
        // The 1/second limit breaches first; with fail_on_first_breach the 5/minute limit is
        // then not counted (remaining 4 after three requests), without it every limit is.
        assert_eq!(server.statuses("/a", 3).await, [200, 429, 429]);
        let limit: limiter_axum::RateLimit = "5/minute".parse().unwrap();
        let stats = limiter
            .rate_limiter()
            .window_stats(&limit, &["127.0.0.1", "ok"])
            .await
            .unwrap();
        assert_eq!(
            stats.remaining, expected_remaining,
            "fail_on_first_breach={fail_first}"
        );
    }
}

#[tokio::test]
async fn request_filter_and_disabled_limiter() {
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .default_limits(["1 per minute"])
            .application_limits(["1 per minute"])
            .request_filter(|request| request.headers().contains_key("x-internal")),
        Router::new().route("/a", get(ok)),
    )
    .await;
    let internal = [("x-internal", "1")];
    for _ in 0..3 {
        assert_eq!(
            server.request(Method::GET, "/a", &internal).await.status,
            200
        );
    }
    assert_eq!(server.statuses("/a", 2).await, [200, 429]);

    let (_, server) = app(
        Limiter::new(get_remote_address)
            .default_limits(["1 per minute"])
            .enabled(false),
        Router::new().route("/a", get(ok)),
    )
    .await;
    assert_eq!(server.statuses("/a", 3).await, [200, 200, 200]);
}

#[tokio::test]
async fn limits_declared_in_code_match_the_attributes() {
    let (limiter, server) = app(
        Limiter::new(get_remote_address).default_limits(["100 per minute"]),
        Router::new()
            .route("/code", get(ok).limit("1 per day"))
            .route("/exempt", get(|| async { "free" }).exempt())
            .route(
                "/write",
                post(ok)
                    .limit_with(Limit::new("1 per minute").cost(1))
                    .name("write"),
            ),
    )
    .await;
    assert_eq!(server.get("/code").await.status, 200);
    assert_eq!(server.get("/code").await.body, flask_429("1 per 1 day"));
    assert_eq!(server.statuses("/exempt", 3).await, [200, 200, 200]);
    let routes = limiter.routes();
    let exempt = routes.iter().find(|r| r.path == "/exempt").unwrap();
    assert!(exempt.exempt);
    assert_eq!(exempt.endpoint, "/exempt");
    let write = routes.iter().find(|r| r.path == "/write").unwrap();
    assert_eq!(write.endpoint, "write");
    assert_eq!(write.methods, ["POST"]);
}

#[tokio::test]
async fn bad_limits_are_build_errors() {
    let error = Limiter::new(get_remote_address)
        .application_limits(["1 per fortnight"])
        .build()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("invalid application limit"),
        "{error}"
    );
    let limiter = Limiter::new(get_remote_address).build().await.unwrap();
    let error = Router::<()>::new()
        .route("/x", get(ok).limit("ten per minute"))
        .with_limiter(&limiter)
        .unwrap_err();
    assert!(error.to_string().contains("route 'ok' (/x)"), "{error}");
}
