//! The `metrics` feature over real HTTP: an app serving its Prometheus registry at `/metrics`
//! (metrics-exporter-prometheus, as `examples/metrics`), scraped after real requests. On memory
//! storage here, on a real Redis when `metrics_redis.rs` runs these same tests.
//!
//! The recorder is global: each test serves its own handlers, so that its endpoints are its own
//! even when the tests share a process.

use axum::routing::get as axum_get;
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, FaultSwitch, Limiter, LimiterBuilder, Router};
use limiter_tests::{serve_limited, Server};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// The process's Prometheus registry, installed as the global recorder on first use (before
/// any limiter registers a metric).
fn registry() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("install the Prometheus recorder")
        })
        .clone()
}

/// Serves `router`, checked by the limiter `builder` builds (on memory here, on Redis from
/// `metrics_redis.rs`), with the registry at `/metrics`.
async fn app(builder: LimiterBuilder, router: Router) -> Server {
    let handle = registry();
    let router = router.route_unlimited(
        "/metrics",
        axum_get(move || std::future::ready(handle.render())),
    );
    serve_limited(builder, router, module_path!()).await.1
}

/// The value of the sample `name` whose labels include `labels`, in a Prometheus scrape.
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(labelled) => labelled.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        labels
            .iter()
            .all(|(key, value)| label_text.contains(&format!("{key}=\"{value}\"")))
            .then(|| value.trim().parse().ok())?
    })
}

async fn scraped(server: &Server) -> String {
    let reply = server.get("/metrics").await;
    assert_eq!(reply.status, 200);
    reply.body
}

async fn counted() -> &'static str {
    "counted"
}

#[tokio::test]
async fn allowed_and_limited_requests_are_counted_by_endpoint_and_limit() {
    let server = app(
        Limiter::new(get_remote_address).default_limits(["2 per minute", "100 per day"]),
        Router::new().route("/counted", get(counted)),
    )
    .await;
    assert_eq!(server.statuses("/counted", 3).await, [200, 200, 429]);
    let scrape = scraped(&server).await;
    let endpoint = [("endpoint", "counted")];
    assert_eq!(
        sample(&scrape, "limiter_requests_allowed_total", &endpoint),
        Some(2.0),
        "{scrape}"
    );
    let limited = [("endpoint", "counted"), ("limit", "2 per 1 minute")];
    assert_eq!(
        sample(&scrape, "limiter_requests_limited_total", &limited),
        Some(1.0),
        "{scrape}"
    );
    // The day limit refused nothing.
    let day = [("endpoint", "counted"), ("limit", "100 per 1 day")];
    assert_eq!(
        sample(&scrape, "limiter_requests_limited_total", &day),
        None
    );
    // Every decision went to the storage once, and none failed.
    let storage = if scrape.contains("storage=\"redis\"") {
        "redis"
    } else {
        "memory"
    };
    let timed = [
        ("endpoint", "counted"),
        ("storage", storage),
        ("fallback", "false"),
    ];
    assert_eq!(
        sample(&scrape, "limiter_storage_duration_seconds_count", &timed),
        Some(3.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "limiter_storage_errors_total", &endpoint),
        None
    );
}

async fn failing() -> &'static str {
    "failing"
}

#[tokio::test]
async fn storage_errors_and_the_fallback_are_counted() {
    let switch = FaultSwitch::new();
    let server = app(
        Limiter::new(get_remote_address)
            .default_limits(["50 per minute"])
            .in_memory_fallback_enabled(true)
            // The gauge follows the circuit breaker: opened here by the first failure.
            .storage_failures_to_open(1)
            .fault_switch(switch.clone()),
        Router::new().route("/failing", get(failing)),
    )
    .await;
    assert_eq!(server.get("/failing").await.status, 200);
    switch.set(true);
    // The storage fails: the request is decided again on the in-memory fallback.
    assert_eq!(server.get("/failing").await.status, 200);
    let scrape = scraped(&server).await;
    let endpoint = [("endpoint", "failing")];
    assert_eq!(
        sample(&scrape, "limiter_storage_errors_total", &endpoint),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "limiter_fallback_active", &[]),
        Some(1.0),
        "{scrape}"
    );
    let on_fallback = [
        ("endpoint", "failing"),
        ("storage", "memory"),
        ("fallback", "true"),
    ];
    assert_eq!(
        sample(
            &scrape,
            "limiter_storage_duration_seconds_count",
            &on_fallback
        ),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "limiter_requests_allowed_total", &endpoint),
        Some(2.0)
    );
    // The storage is back: the first probe (a second later) returns to it.
    switch.set(false);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(server.get("/failing").await.status, 200);
    let scrape = scraped(&server).await;
    assert_eq!(
        sample(&scrape, "limiter_fallback_active", &[]),
        Some(0.0),
        "{scrape}"
    );
}
