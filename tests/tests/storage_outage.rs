//! A 5 s outage of a real Redis under load (16 concurrent clients), for each failure mode:
//! the throughput during the outage divided by the throughput before it, the failure statuses
//! seen, and recovery once the server is back. The Redis is a `redis-server` of the test's own,
//! killed with SIGKILL as a crash would, so other tests are not disturbed.
//!
//! The figures are printed (`--no-capture`) and recorded in `docs/reliability.md`.

use axum::http::StatusCode;
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, FailureMode, Limiter, LimiterBuilder, Router};
use limiter_tests::{serve, PrivateRedis, Server};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent clients.
const CLIENTS: usize = 16;
/// How long the load runs before the outage.
const BEFORE: Duration = Duration::from_secs(2);
/// How long the server stays down.
const OUTAGE: Duration = Duration::from_secs(5);
/// A response this slow waited for the storage's timeout (1 s by default). Before the circuit
/// breaker every request of the outage did; now only those in flight when the server died and
/// the breaker's probes may. Counting them, rather than comparing throughputs, keeps the test
/// independent of how loaded the machine is.
const WAITED: Duration = Duration::from_millis(950);
/// At most this many responses of the outage may wait for the timeout: each client's request in
/// flight when the server died, the failures that open the breaker, and the probes.
const MAY_WAIT: u64 = 2 * CLIENTS as u64;

/// What one phase of load saw.
#[derive(Debug, Default)]
struct Phase {
    /// Responses by status.
    statuses: BTreeMap<u16, u64>,
    /// Responses per second.
    throughput: f64,
    /// The slowest response.
    slowest: Duration,
    /// Responses that took at least [`WAITED`].
    waited: u64,
}

impl Phase {
    fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// `CLIENTS` clients sending GET `/a` in a loop for `span`.
async fn load(server: &Arc<Server>, span: Duration) -> Phase {
    let started = Instant::now();
    let deadline = started + span;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                let mut statuses = BTreeMap::new();
                let mut slowest = Duration::ZERO;
                let mut waited = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let status = server.get("/a").await.status;
                    slowest = slowest.max(sent.elapsed());
                    waited += u64::from(sent.elapsed() >= WAITED);
                    *statuses.entry(status).or_insert(0u64) += 1;
                }
                (statuses, slowest, waited)
            })
        })
        .collect();
    let mut phase = Phase::default();
    for task in tasks {
        let (statuses, slowest, waited) = task.await.unwrap();
        phase.waited += waited;
        for (status, count) in statuses {
            *phase.statuses.entry(status).or_insert(0) += count;
        }
        phase.slowest = phase.slowest.max(slowest);
    }
    let total: u64 = phase.statuses.values().sum();
    phase.throughput = total as f64 / started.elapsed().as_secs_f64();
    phase
}

/// Serves `/a` (a limit that admits everything) through a limiter on `redis`, runs the load
/// before, during and after a 5 s outage, and returns the three phases.
async fn outage(mode: &str, builder: LimiterBuilder) -> Option<(Phase, Phase, Phase)> {
    limiter_tests::server_env("LIMITER_TEST_REDIS_URL", &format!("outage, {mode}"))?;
    let mut redis = PrivateRedis::start(None);
    let limiter = builder
        .storage_uri(redis.url(0))
        .default_limits(["1000000 per hour"])
        .build()
        .await
        .expect("the server is up");
    let app = Router::new()
        .route("/a", get(|| async { "ok" }))
        .with_limiter(&limiter)
        .unwrap();
    let server = Arc::new(serve(app).await);
    let before = load(&server, BEFORE).await;
    redis.kill();
    let during = load(&server, OUTAGE).await;
    redis.restart();
    // The first probe comes at most 32 s after the previous one; here the outage saw probes at
    // 1, 3 (1 + 2) and 7 s, so the next is due 8 s after that one.
    let recovered = Instant::now();
    while limiter.storage_dead() {
        assert!(recovered.elapsed() < Duration::from_secs(20), "recovers");
        server.get("/a").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = load(&server, Duration::from_millis(500)).await;
    println!(
        "{mode}: before {:.0}/s {:?}; during the outage {:.0}/s {:?} (ratio {:.2}, slowest {:?}, \
         {} waited for the timeout); recovered after {:?}; after {:?}",
        before.throughput,
        before.statuses,
        during.throughput,
        during.statuses,
        during.throughput / before.throughput,
        during.slowest,
        during.waited,
        recovered.elapsed(),
        after.statuses
    );
    Some((before, during, after))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_keeps_serving_during_an_outage() {
    let builder = Limiter::new(get_remote_address).swallow_errors(true);
    let Some((before, during, after)) = outage("fail open", builder).await else {
        return;
    };
    assert_eq!(before.count(200), before.statuses.values().sum::<u64>());
    assert_eq!(
        during.count(200),
        during.statuses.values().sum::<u64>(),
        "all let through"
    );
    assert!(
        during.waited <= MAY_WAIT,
        "only the requests in flight and the probes wait for the timeout: {during:?}"
    );
    assert_eq!(after.count(200), after.statuses.values().sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_serves_every_request_during_an_outage() {
    let builder = Limiter::new(get_remote_address).in_memory_fallback_enabled(true);
    let Some((before, during, after)) = outage("in-memory fallback", builder).await else {
        return;
    };
    assert_eq!(before.count(200), before.statuses.values().sum::<u64>());
    assert_eq!(
        during.count(200),
        during.statuses.values().sum::<u64>(),
        "no failure status"
    );
    assert!(
        during.waited <= MAY_WAIT,
        "only the requests in flight and the probes wait for the timeout: {during:?}"
    );
    assert_eq!(after.count(200), after.statuses.values().sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_answers_at_once_during_an_outage() {
    let builder = Limiter::new(get_remote_address)
        .failure_mode(FailureMode::FailClosed(StatusCode::SERVICE_UNAVAILABLE));
    let Some((before, during, after)) = outage("fail closed", builder).await else {
        return;
    };
    assert_eq!(before.count(200), before.statuses.values().sum::<u64>());
    let total: u64 = during.statuses.values().sum();
    assert!(
        during.count(503) + during.count(200) == total && during.count(503) > total / 2,
        "503 while down: {during:?}"
    );
    assert!(
        during.waited <= MAY_WAIT,
        "only the requests in flight and the probes wait for the timeout: {during:?}"
    );
    assert_eq!(after.count(200), after.statuses.values().sum::<u64>());
}
