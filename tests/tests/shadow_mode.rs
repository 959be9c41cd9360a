//! Shadow (dry-run) mode over real HTTP: globally (`shadow_mode`, `RATELIMIT_SHADOW_MODE`) and
//! per limit (`Limit::shadow`, `#[limit(…, shadow)]`). Every limit is counted and reported as
//! usual, a breach is logged (limit and endpoint at warn, the key at debug only) and the request
//! passes. On memory storage here, on Redis when `shadow_mode_redis.rs` runs the same tests.

use limiter_axum::routing::get;
use limiter_axum::{
    get_remote_address, limit, Limit, Limiter, LimiterBuilder, Router, UnroutedHandlers,
};
use limiter_tests::{serve_limited, Server};
use std::io::Write;
use std::sync::{Arc, Mutex};

async fn ok() -> &'static str {
    "ok"
}

/// Builds the limiter (memory storage, or Redis from `shadow_mode_redis.rs`) and serves `router`.
async fn app(builder: LimiterBuilder, router: Router) -> (Limiter, Server) {
    // Each test routes only some of this binary's attributed handlers.
    let builder = builder.unrouted_handlers(UnroutedHandlers::Allow);
    serve_limited(builder, router, module_path!()).await
}

/// The log lines written while the returned guard lives (on this thread: the tests run on a
/// current-thread runtime, where the server's tasks run too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || logs.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn shadow_warnings(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|line| line.contains("WARN") && line.contains("shadow mode"))
            .collect()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_shadow_limit_counts_reports_and_logs_but_never_refuses() {
    let logs = Logs::default();
    let _guard = logs.capture(tracing::Level::WARN);
    let (_, server) = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        Router::new().route(
            "/new",
            get(ok).limit_with(Limit::new("2 per minute").shadow()),
        ),
    )
    .await;
    let mut remaining = Vec::new();
    for _ in 0..4 {
        let reply = server.get("/new").await;
        assert_eq!(
            reply.status, 200,
            "a shadow limit lets every request through"
        );
        assert_eq!(reply.header("x-ratelimit-limit"), Some("2"));
        remaining.push(reply.header("x-ratelimit-remaining").unwrap().to_owned());
    }
    // Counted as if enforced: the headers show what the client will see once it is.
    assert_eq!(remaining, ["1", "0", "0", "0"]);
    let warnings = logs.shadow_warnings();
    assert_eq!(warnings.len(), 2, "one warning per breach: {warnings:?}");
    for warning in &warnings {
        assert!(warning.contains("2 per 1 minute"), "{warning}");
        assert!(warning.contains("endpoint"), "{warning}");
        assert!(
            !warning.contains("127.0.0.1"),
            "the key stays out of warnings: {warning}"
        );
    }
}

#[tokio::test]
async fn the_key_of_a_shadow_breach_is_logged_at_debug_only() {
    let logs = Logs::default();
    let _guard = logs.capture(tracing::Level::DEBUG);
    let (_, server) = app(
        Limiter::new(get_remote_address),
        Router::new().route(
            "/new",
            get(ok).limit_with(Limit::new("1 per minute").shadow()),
        ),
    )
    .await;
    assert_eq!(server.statuses("/new", 2).await, [200, 200]);
    let lines = logs.lines();
    let keyed: Vec<_> = lines
        .iter()
        .filter(|line| line.contains("shadow") && line.contains("127.0.0.1"))
        .collect();
    assert!(!keyed.is_empty(), "{lines:?}");
    assert!(keyed.iter().all(|line| line.contains("DEBUG")), "{keyed:?}");
}

#[limit("2 per minute", shadow)]
async fn attributed() -> &'static str {
    "ok"
}

#[tokio::test]
async fn the_attribute_option_makes_a_shadow_limit() {
    let (_, server) = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        Router::new().route("/attributed", get(attributed)),
    )
    .await;
    assert_eq!(server.statuses("/attributed", 4).await, [200; 4]);
    let reply = server.get("/attributed").await;
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("0"));
}

#[tokio::test]
async fn an_enforced_limit_beside_a_shadow_one_is_counted_and_enforced() {
    // The shadow limit has the smaller window, so it is checked first and breached from the
    // second request on: the check must go on counting the enforced limit after it.
    let (_, server) = app(
        Limiter::new(get_remote_address).headers_enabled(true),
        Router::new().route(
            "/mixed",
            get(ok)
                .limit_with(Limit::new("1 per 30 second").shadow())
                .limit("3 per minute"),
        ),
    )
    .await;
    assert_eq!(server.statuses("/mixed", 3).await, [200, 200, 200]);
    let refused = server.get("/mixed").await;
    assert_eq!(refused.status, 429, "the enforced limit still refuses");
    // The 429 and its headers are the enforced limit's.
    assert_eq!(refused.header("x-ratelimit-limit"), Some("3"));
    assert!(refused.body.contains("3 per 1 minute"), "{}", refused.body);
}

#[tokio::test]
async fn a_shadow_breach_does_not_stop_the_counting_of_larger_windows() {
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .headers_enabled(true)
            .shadow_mode(true),
        Router::new().route("/all", get(ok).limit("1 per 30 second; 2 per hour")),
    )
    .await;
    let mut reported = Vec::new();
    for _ in 0..3 {
        let reply = server.get("/all").await;
        assert_eq!(reply.status, 200);
        let header = |name| reply.header(name).unwrap().to_owned();
        reported.push((header("x-ratelimit-limit"), header("x-ratelimit-remaining")));
    }
    // The second request breaches the 30 s window, which is reported; the hour's limit was still
    // counted, so the third breaches it too, and the headers report the last breached limit.
    let expected = [("1", "0"), ("1", "0"), ("2", "0")];
    let expected: Vec<_> = expected
        .iter()
        .map(|(limit, remaining)| (limit.to_string(), remaining.to_string()))
        .collect();
    assert_eq!(reported, expected);
}

#[tokio::test]
async fn shadow_headers_off_with_global_shadow_mode_sends_no_headers() {
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .headers_enabled(true)
            .shadow_mode(true)
            .shadow_headers(false),
        Router::new().route("/all", get(ok).limit("1 per 30 second; 2 per hour")),
    )
    .await;
    for _ in 0..3 {
        let reply = server.get("/all").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-ratelimit-limit"), None, "no shadow headers");
        assert_eq!(reply.header("retry-after"), None);
    }
}

#[tokio::test]
async fn global_shadow_mode_lets_every_limit_pass_meta_limits_included() {
    let logs = Logs::default();
    let _guard = logs.capture(tracing::Level::WARN);
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .default_limits(["1 per minute"])
            .application_limits(["2 per minute"])
            .meta_limits(["1 per hour"])
            .headers_enabled(true)
            .shadow_mode(true),
        Router::new().route("/a", get(ok)),
    )
    .await;
    assert_eq!(server.statuses("/a", 5).await, [200; 5]);
    let reply = server.get("/a").await;
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("0"));
    assert!(logs.shadow_warnings().len() >= 5, "{:?}", logs.lines());
}

#[tokio::test]
async fn shadow_headers_off_reports_the_enforced_limits_only() {
    let (_, server) = app(
        Limiter::new(get_remote_address)
            .headers_enabled(true)
            .shadow_headers(false),
        Router::new().route(
            "/rollout",
            get(ok)
                .limit_with(Limit::new("1 per 30 second").shadow())
                .limit("5 per minute"),
        ),
    )
    .await;
    for expected_remaining in ["4", "3", "2"] {
        let reply = server.get("/rollout").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            reply.header("x-ratelimit-remaining"),
            Some(expected_remaining)
        );
    }
}

#[tokio::test]
async fn the_environment_turns_shadow_mode_on() {
    let builder = Limiter::new(get_remote_address)
        .default_limits(["1 per minute"])
        .from_vars(|name| (name == "RATELIMIT_SHADOW_MODE").then(|| "true".to_owned()))
        .unwrap();
    let (_, server) = app(builder, Router::new().route("/env", get(ok))).await;
    assert_eq!(server.statuses("/env", 3).await, [200, 200, 200]);
    // Without it, the same limit refuses.
    let (_, enforced) = app(
        Limiter::new(get_remote_address).default_limits(["1 per minute"]),
        Router::new().route("/env", get(ok)),
    )
    .await;
    assert_eq!(enforced.statuses("/env", 2).await, [200, 429]);
}

#[tokio::test]
async fn the_registry_marks_shadow_and_response_cost_limits() {
    let (limiter, _) = app(
        Limiter::new(get_remote_address),
        Router::new().route("/attributed", get(attributed)).route(
            "/tokens",
            get(ok).limit_with(Limit::new("100 per minute").cost_from_response()),
        ),
    )
    .await;
    let flags: Vec<_> = limiter
        .routes()
        .iter()
        .flat_map(|route| &route.limits)
        .map(|limit| (limit.limit.clone(), limit.shadow, limit.cost_from_response))
        .collect();
    assert_eq!(
        flags,
        [
            ("2 per 1 minute".to_owned(), true, false),
            ("100 per 1 minute".to_owned(), false, true),
        ]
    );
}
