//! Lease mode over real HTTP: two app processes (`src/bin/lease-app.rs`) on one Redis, one
//! client hitting both. Lease mode must never admit more than the limit, and reject at most
//! `instances × max_units` hits that exact mode would admit, all of which come back once the
//! leases end.

use limiter_tests::{server_env, start_app, Running, Server};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: u64 = 300;
const MAX_UNITS: u64 = 20;
const INSTANCES: u64 = 2;
const LEASE_MILLIS: u64 = 300;

async fn start_instance(redis_url: &str, prefix: &str) -> (Running, Server) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lease-app"));
    command
        .env("LEASE_REDIS_URL", redis_url)
        .env("LEASE_PREFIX", prefix)
        .env("LEASE_LIMIT", format!("{LIMIT} per hour"))
        .env("LEASE_MAX_UNITS", MAX_UNITS.to_string())
        .env("LEASE_MILLIS", LEASE_MILLIS.to_string());
    start_app(command).await
}

/// Sends `per_instance` requests to each instance, eight at a time to each; counts the admitted.
async fn admitted(instances: &[Arc<Server>], per_instance: usize) -> u64 {
    let mut admitted = 0;
    for _ in 0..per_instance.div_ceil(8) {
        let mut requests = tokio::task::JoinSet::new();
        for server in instances {
            for _ in 0..8 {
                let server = Arc::clone(server);
                requests.spawn(async move { server.get("/fast").await.status });
            }
        }
        while let Some(status) = requests.join_next().await {
            match status.unwrap() {
                200 => admitted += 1,
                429 => {}
                other => panic!("unexpected status {other}"),
            }
        }
    }
    admitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_admit_more_than_the_limit_and_at_most_their_leases_fewer() {
    let Some(redis_url) = server_env("LIMITER_TEST_REDIS_URL", "lease") else {
        return;
    };
    let prefix = limiter_tests::suite::unique_id("lease");
    let (_first, first) = start_instance(&redis_url, &prefix).await;
    let (_second, second) = start_instance(&redis_url, &prefix).await;
    let instances = [Arc::new(first), Arc::new(second)];

    // Twice the limit, from one client, through both instances at once.
    let during = admitted(&instances, LIMIT as usize).await;
    let error = LIMIT - during.min(LIMIT);
    println!(
        "lease mode, {INSTANCES} instances, leases of at most {MAX_UNITS}: {during} of {LIMIT} \
         admitted while both held leases (admission error {error}, bound {})",
        INSTANCES * MAX_UNITS
    );
    assert!(during <= LIMIT, "over-admitted: {during} > {LIMIT}");
    assert!(
        error <= INSTANCES * MAX_UNITS,
        "rejected {error} hits that the limit allows, more than {INSTANCES} × {MAX_UNITS}"
    );

    // Once the leases end, their unspent units are back on the server: the counter holds
    // exactly what was admitted, and the rest of the limit is admitted.
    tokio::time::sleep(Duration::from_millis(3 * LEASE_MILLIS)).await;
    let mut redis = limiter_tests::redis_connection(&redis_url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut redis)
        .await
        .expect("the keys");
    assert_eq!(keys.len(), 1, "one limit, one client: one key ({keys:?})");
    let key = &keys[0];
    let counter: u64 = redis::cmd("GET")
        .arg(key)
        .query_async(&mut redis)
        .await
        .expect("the counter");
    assert_eq!(counter, during, "the unspent leases were handed back");
    let after = admitted(&instances, LIMIT as usize).await;
    assert_eq!(
        during + after,
        LIMIT,
        "the whole limit is admitted in the end"
    );
}
