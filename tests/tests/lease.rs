//! Lease mode over real HTTP: two app processes (`src/bin/lease-app.rs`) on one Redis, one
//! client hitting both. Lease mode must never admit more than the limit, and reject at most
//! `instances × max_units` hits that exact mode would admit (`instances × 2 × max_units`
//! when the next lease is taken ahead), all of which come back once the leases end. And in
//! process: taking ahead spares a steadily hit key the wait for each grant.

use limiter_core::storage::LeaseConfig;
use limiter_core::{Hit, RateLimit, RedisStorage, Storage, Strategy};
use limiter_tests::{server_env, start_app, Running, Server};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: u64 = 300;
const MAX_UNITS: u64 = 20;
const INSTANCES: u64 = 2;
const LEASE_MILLIS: u64 = 300;

async fn start_instance(redis_url: &str, prefix: &str, prefetch: bool) -> (Running, Server) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lease-app"));
    command
        .env("LEASE_PREFETCH", prefetch.to_string())
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
    two_instances(false, MAX_UNITS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_taking_leases_ahead_hold_at_most_two_leases_each() {
    two_instances(true, 2 * MAX_UNITS).await;
}

/// Two instances, leases of at most `MAX_UNITS`, the next one taken ahead or not: each holds at
/// most `held` units, which is the admission error's bound per instance.
async fn two_instances(prefetch: bool, held: u64) {
    let Some(redis_url) = server_env("LIMITER_TEST_REDIS_URL", "lease") else {
        return;
    };
    let prefix = limiter_tests::suite::unique_id("lease");
    let (_first, first) = start_instance(&redis_url, &prefix, prefetch).await;
    let (_second, second) = start_instance(&redis_url, &prefix, prefetch).await;
    let instances = [Arc::new(first), Arc::new(second)];

    // Twice the limit, from one client, through both instances at once.
    let during = admitted(&instances, LIMIT as usize).await;
    let error = LIMIT - during.min(LIMIT);
    println!(
        "lease mode, {INSTANCES} instances, leases of at most {MAX_UNITS}, taken ahead: \
         {prefetch}: {during} of {LIMIT} admitted while both held leases (admission error \
         {error}, bound {})",
        INSTANCES * held
    );
    assert!(during <= LIMIT, "over-admitted: {during} > {LIMIT}");
    assert!(
        error <= INSTANCES * held,
        "rejected {error} hits that the limit allows, more than {INSTANCES} × {held}"
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

/// Taking the next lease ahead: a key hit steadily (a hit every few milliseconds) waits for its
/// first grant only, the next ones arriving while the running lease still pays; without it,
/// each lease's end waits for a grant: 200 hits, leases of 20, 10 waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_hit_steadily_waits_only_for_its_first_grant_when_leases_are_taken_ahead() {
    let Some(redis_url) = server_env("LIMITER_TEST_REDIS_URL", "lease") else {
        return;
    };
    let limit: RateLimit = "100000 per hour".parse().unwrap();
    let mut waits = Vec::new();
    for prefetch in [false, true] {
        let lease = LeaseConfig::default()
            .max_units(20)
            .duration(Duration::from_secs(600))
            .prefetch(prefetch);
        let storage = Storage::from(
            RedisStorage::builder(redis_url.as_str())
                .key_prefix(limiter_tests::suite::unique_id("lease-ahead"))
                .lease(lease)
                .build()
                .await
                .expect("the test Redis"),
        );
        let hit = Hit {
            limit: &limit,
            identifiers: &["steady"],
            cost: 1,
        };
        let mut waited = 0;
        for _ in 0..200 {
            let decisions = match storage.acquire_all_now(Strategy::FixedWindow, &[hit], true) {
                Some(decisions) => decisions,
                None => {
                    waited += 1;
                    storage.acquire(Strategy::FixedWindow, &[hit], true).await
                }
            };
            assert!(decisions.expect("Redis answers")[0].allowed);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        waits.push(waited);
    }
    println!("hits that waited for a grant, without / with taking ahead: {waits:?}");
    assert_eq!(waits, [10, 1]);
}
