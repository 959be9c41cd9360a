//! Storage failures (behaviour §4.11): fail closed (500 or 503), fail open, and the in-memory
//! fallback with its recovery probe — driven by the `fault-injection` switch on memory storage.

use axum::http::StatusCode;
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, FailureMode, FaultSwitch, Limiter, LimiterBuilder, Router};
use limiter_tests::{serve, Server};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

async fn app(builder: LimiterBuilder) -> (Limiter, Server, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let limiter = builder.build().await.unwrap();
    let app = Router::new()
        .route(
            "/a",
            get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    "ok"
                }
            }),
        )
        .with_limiter(&limiter)
        .unwrap();
    (limiter, serve(app).await, calls)
}

#[tokio::test]
async fn fails_closed_by_default_without_running_the_handler() {
    let fault = FaultSwitch::new();
    fault.set(true);
    let (_, server, calls) = app(Limiter::new(get_remote_address)
        .default_limits(["5 per minute"])
        .fault_switch(fault.clone()))
    .await;
    assert_eq!(server.get("/a").await.status, 500);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    fault.set(false);
    assert_eq!(server.get("/a").await.status, 200);
}

#[tokio::test]
async fn fail_closed_with_503_and_fail_open() {
    let fault = FaultSwitch::new();
    fault.set(true);
    let (_, server, _) = app(Limiter::new(get_remote_address)
        .default_limits(["1 per minute"])
        .failure_mode(FailureMode::FailClosed(StatusCode::SERVICE_UNAVAILABLE))
        .fault_switch(fault.clone()))
    .await;
    assert_eq!(server.get("/a").await.status, 503);

    let (_, server, calls) = app(Limiter::new(get_remote_address)
        .default_limits(["1 per minute"])
        .swallow_errors(true)
        .fault_switch(fault.clone()))
    .await;
    assert_eq!(server.statuses("/a", 3).await, [200, 200, 200]);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn in_memory_fallback_and_recovery() {
    let fault = FaultSwitch::new();
    let (limiter, server, _) = app(Limiter::new(get_remote_address)
        .default_limits(["2 per minute"])
        .in_memory_fallback_enabled(true)
        .fault_switch(fault.clone()))
    .await;
    assert_eq!(server.get("/a").await.status, 200);
    fault.set(true);
    // The primary fails: the request is retried at once on the fallback, which has fresh
    // counters, so two more requests pass and the third is limited.
    assert_eq!(server.statuses("/a", 3).await, [200, 200, 429]);
    assert!(limiter.storage_dead());
    fault.set(false);
    // The first probe is due one second after the storage was marked dead.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Recovered: back on the primary, where one hit was counted before the outage.
    assert_eq!(server.statuses("/a", 2).await, [200, 429]);
    assert!(!limiter.storage_dead());
}

#[tokio::test]
async fn fallback_limits_replace_the_others_while_down() {
    let fault = FaultSwitch::new();
    fault.set(true);
    let (_, server, _) = app(Limiter::new(get_remote_address)
        .default_limits(["100 per minute"])
        .in_memory_fallback(["1 per minute"])
        .fault_switch(fault.clone()))
    .await;
    assert_eq!(server.statuses("/a", 2).await, [200, 429]);
}
