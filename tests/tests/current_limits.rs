//! Flask-Limiter's `current_limit` / `current_limits` (§4.12) over real HTTP: a handler reads
//! the limits evaluated for its request with the `CurrentLimits` extractor.

use limiter_axum::routing::get;
use limiter_axum::{
    exempt, get_remote_address, limit, CurrentLimits, Limiter, LimiterBuilder, Router,
    UnroutedHandlers,
};
use limiter_tests::{serve, serve_route};

/// Builds the limiter `builder` configures. Each test routes only some of this binary's
/// attributed handlers.
async fn build(builder: LimiterBuilder) -> Limiter {
    builder
        .unrouted_handlers(UnroutedHandlers::Allow)
        .build()
        .await
        .unwrap()
}

/// One line per evaluated limit, then the header limit.
fn describe(limits: &CurrentLimits) -> String {
    let mut text = String::new();
    for limit in limits.limits() {
        text.push_str(&format!(
            "{} key={} remaining={} breached={} shared={} reset_at={}\n",
            limit.limit, limit.key, limit.remaining, limit.breached, limit.shared, limit.reset_at
        ));
    }
    match limits.current() {
        Some(current) => text.push_str(&format!("current={}", current.limit)),
        None => text.push_str("current=none"),
    }
    text
}

// Declared largest window first: the list is still in ascending window order.
#[limit("5 per hour", cost = 2)]
#[limit("1 per minute")]
async fn view(limits: CurrentLimits) -> String {
    describe(&limits)
}

#[exempt]
async fn free(limits: CurrentLimits) -> String {
    describe(&limits)
}

async fn plain(limits: CurrentLimits) -> String {
    describe(&limits)
}

fn parse(line: &str) -> Vec<(&str, &str)> {
    line.split(' ')
        .filter_map(|field| field.split_once('='))
        .collect()
}

#[tokio::test]
async fn the_handler_sees_the_limits_of_its_request() {
    let limiter = build(Limiter::new(get_remote_address).current_limits(true)).await;
    let app = Router::new()
        .route("/view", get(view))
        .route("/free", get(free))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let reply = server.get("/view").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines: Vec<&str> = reply.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", reply.body);
    assert!(
        lines[0].starts_with(
            "1 per 1 minute key=LIMITER/127.0.0.1/view/1/1/minute remaining=0 breached=false \
             shared=false reset_at="
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(
            "5 per 1 hour key=LIMITER/127.0.0.1/view/5/1/hour remaining=3 breached=false \
             shared=false reset_at="
        ),
        "{}",
        lines[1]
    );
    let reset = |line: &str| -> u64 { parse(line).last().unwrap().1.parse().unwrap() };
    assert!(
        (now + 60..=now + 62).contains(&reset(lines[0])),
        "{}",
        lines[0]
    );
    assert!(
        (now + 3600..=now + 3602).contains(&reset(lines[1])),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "current=1 per 1 minute");

    // The next request is rejected before the handler runs.
    assert_eq!(server.get("/view").await.status, 429);

    // Nothing is checked for an exempt route: the list is empty.
    let reply = server.get("/free").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "current=none");
}

#[tokio::test]
async fn the_header_limit_skips_shared_limits() {
    #[limiter_axum::shared_limit("2 per second", scope = "group")]
    #[limit("10 per minute")]
    async fn mixed(limits: CurrentLimits) -> String {
        describe(&limits)
    }
    let limiter = build(Limiter::new(get_remote_address).current_limits(true)).await;
    let app = Router::new()
        .route("/mixed", get(mixed))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let reply = server.get("/mixed").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines: Vec<&str> = reply.body.lines().collect();
    assert!(
        lines[0].starts_with("2 per 1 second key=LIMITER/127.0.0.1/group/2/1/second remaining=1")
            && lines[0].contains("shared=true"),
        "{}",
        reply.body
    );
    assert!(
        lines[1].starts_with("10 per 1 minute key=LIMITER/127.0.0.1/mixed/10/1/minute remaining=9"),
        "{}",
        reply.body
    );
    assert_eq!(lines[2], "current=10 per 1 minute");
}

#[tokio::test]
async fn default_limits_and_disabled_limiter() {
    let limiter = build(
        Limiter::new(get_remote_address)
            .default_limits(["3 per minute"])
            .current_limits(true),
    )
    .await;
    let server = serve_route(&limiter, "/plain", get(plain)).await;
    let reply = server.get("/plain").await;
    assert!(
        reply
            .body
            .starts_with("3 per 1 minute key=LIMITER/127.0.0.1/plain/3/1/minute remaining=2"),
        "{}",
        reply.body
    );

    let limiter = build(
        Limiter::new(get_remote_address)
            .default_limits(["3 per minute"])
            .current_limits(true)
            .enabled(false),
    )
    .await;
    let server = serve_route(&limiter, "/plain", get(plain)).await;
    let reply = server.get("/plain").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "current=none"));
}

#[tokio::test]
async fn without_the_option_the_extractor_fails_loudly() {
    let limiter = build(Limiter::new(get_remote_address).default_limits(["3 per minute"])).await;
    let server = serve_route(&limiter, "/plain", get(plain)).await;
    let reply = server.get("/plain").await;
    assert_eq!(reply.status, 500);
    assert!(
        reply.body.contains("current_limits(true)"),
        "{}",
        reply.body
    );
}

fn never(_: &limiter_axum::Response) -> bool {
    false
}

// `deduct_when` takes the boxed path (the check as a future, as on network storages): the
// deferred limit is reported as tested, not counted.
#[limit("4 per minute", deduct_when = never)]
#[limit("2 per second")]
async fn deferred(limits: CurrentLimits) -> String {
    describe(&limits)
}

#[tokio::test]
async fn the_boxed_path_reports_them_too() {
    let limiter = build(Limiter::new(get_remote_address).current_limits(true)).await;
    let server = serve_route(&limiter, "/deferred", get(deferred)).await;
    for _ in 0..2 {
        let reply = server.get("/deferred").await;
        let lines: Vec<&str> = reply.body.lines().collect();
        assert_eq!(lines.len(), 3, "{}", reply.body);
        assert!(
            lines[1].starts_with(
                "4 per 1 minute key=LIMITER/127.0.0.1/deferred/4/1/minute remaining=4 "
            ),
            "{}",
            reply.body
        );
        assert_eq!(lines[2], "current=2 per 1 second");
    }
}

/// The same over Redis (`LIMITER_TEST_REDIS_URL`): the check runs as a future there.
#[tokio::test]
async fn over_redis() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "current limits on redis")
    else {
        return;
    };
    let prefix = limiter_tests::suite::unique_id("CURRENT");
    let limiter = build(
        Limiter::new(get_remote_address)
            .storage_uri(url)
            .key_prefix(prefix.as_str())
            .current_limits(true),
    )
    .await;
    let server = serve_route(&limiter, "/view", get(view)).await;
    let reply = server.get("/view").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines: Vec<&str> = reply.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", reply.body);
    let expected = [
        format!("1 per 1 minute key=LIMITER/{prefix}/127.0.0.1/view/1/1/minute remaining=0 "),
        format!("5 per 1 hour key=LIMITER/{prefix}/127.0.0.1/view/5/1/hour remaining=3 "),
    ];
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(line.starts_with(expected.as_str()), "{line}\nvs {expected}");
    }
    assert_eq!(lines[2], "current=1 per 1 minute");
    assert_eq!(server.get("/view").await.status, 429);
}
