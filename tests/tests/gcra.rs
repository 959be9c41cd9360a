//! An app with `strategy gcra` over real HTTP: the burst then one request per emission interval,
//! the GCRA meaning of the `X-RateLimit-*` headers and of `Retry-After`, the burst set in code
//! and from `RATELIMIT_GCRA_BURST`. On memory storage here; `gcra_redis.rs` runs the same tests
//! on Redis.

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, LimiterBuilder, Router};
use limiter_core::Strategy;
use limiter_tests::{serve_limited, Server};
use std::num::NonZeroU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

async fn ok() -> &'static str {
    "ok"
}

/// Builds the limiter — on memory storage here, on Redis when `gcra_redis.rs` runs these same
/// tests — and serves `/api` limited by `limit` over real HTTP.
async fn app(builder: LimiterBuilder, limit: &'static str) -> (Limiter, Server) {
    let router = Router::new().route("/api", get(ok).limit(limit));
    serve_limited(builder.headers_enabled(true), router, module_path!()).await
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn number(reply: &limiter_tests::Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

/// `5 per 10 seconds` under GCRA: one request per 2 s, a burst of 5. The burst passes with
/// remaining counting down and a reset when the bucket is full again; the 429 says to retry
/// when the next would pass (2 s), not when a window ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_then_one_per_interval_with_gcra_headers() {
    let (limiter, server) = app(
        Limiter::new(get_remote_address).strategy(Strategy::GCRA),
        "5 per 10 seconds",
    )
    .await;
    assert_eq!(limiter.config().strategy, "gcra");
    let start = unix_now();
    for expected in (0..5).rev() {
        let reply = server.get("/api").await;
        assert_eq!(reply.status, 200);
        assert_eq!(number(&reply, "x-ratelimit-limit"), 5);
        assert_eq!(number(&reply, "x-ratelimit-remaining"), expected);
        // Full again 2 s per request taken (epoch seconds, rounded up by the headers).
        let full_in = number(&reply, "x-ratelimit-reset") as f64 - start;
        let taken = (5 - expected) as f64;
        assert!(
            (2.0 * taken - 1.0..=2.0 * taken + 1.5).contains(&full_in),
            "{taken} taken: full in {full_in}"
        );
    }
    let rejected = server.get("/api").await;
    assert_eq!(rejected.status, 429);
    assert_eq!(number(&rejected, "x-ratelimit-remaining"), 0);
    let retry_after = number(&rejected, "retry-after");
    assert!(
        (1..=3).contains(&retry_after),
        "the next passes one interval (2 s) after the burst, Retry-After {retry_after}"
    );
    // One interval later exactly one more passes.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(server.statuses("/api", 2).await, [200, 429]);
}

/// A burst of 1 set in code: requests are spaced by the interval from the first one on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_set_in_code() {
    let (_, server) = app(
        Limiter::new(get_remote_address).strategy(Strategy::Gcra {
            burst: NonZeroU64::new(1),
        }),
        "4 per second",
    )
    .await;
    let first = server.get("/api").await;
    assert_eq!(first.status, 200);
    assert_eq!(number(&first, "x-ratelimit-remaining"), 0);
    assert_eq!(server.get("/api").await.status, 429);
    tokio::time::sleep(Duration::from_millis(270)).await;
    assert_eq!(server.statuses("/api", 2).await, [200, 429]);
}

/// `RATELIMIT_STRATEGY=gcra` with `RATELIMIT_GCRA_BURST=3` on `1 per minute`: three at once,
/// then one a minute; the configuration reports the burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_from_the_environment() {
    let vars = |name: &str| match name {
        "RATELIMIT_STRATEGY" => Some("gcra".to_owned()),
        "RATELIMIT_GCRA_BURST" => Some("3".to_owned()),
        _ => None,
    };
    let builder = Limiter::new(get_remote_address).from_vars(vars).unwrap();
    let (limiter, server) = app(builder, "1 per minute").await;
    let config = limiter.config();
    assert_eq!(
        (config.strategy.as_str(), config.gcra_burst),
        ("gcra", Some(3))
    );
    assert_eq!(server.statuses("/api", 4).await, [200, 200, 200, 429]);

    let bad = Limiter::new(get_remote_address)
        .from_vars(|name| (name == "RATELIMIT_GCRA_BURST").then(|| "0".to_owned()))
        .err()
        .expect("a burst of 0 is refused");
    assert!(bad.to_string().contains("RATELIMIT_GCRA_BURST"), "{bad}");
}
