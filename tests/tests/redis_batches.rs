//! The fixed-window script writes a key once per batch however often the batch hits it (its
//! later hits are counted in the script and added by one `INCRBY`): each hit must still see the
//! count of every hit before it, and the stored count and expiry must be those of one `INCRBY`
//! per hit, as `limits`' own script writes them.

use limiter_core::{AdmittedReset, Decision, Hit, RedisStorage, Storage, Strategy};
use limiter_tests::suite::{per_seconds, unique_id};

async fn open(url: &str, prefix: &str) -> Storage {
    Storage::from(
        RedisStorage::builder(url)
            .key_prefix(prefix)
            .build()
            .await
            .expect("connect"),
    )
}

async fn stored(url: &str, key: &str) -> (u64, i64) {
    let mut redis = limiter_tests::redis_connection(url).await;
    let count: u64 = redis::cmd("GET")
        .arg(key)
        .query_async(&mut redis)
        .await
        .expect("GET");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut redis)
        .await
        .expect("PTTL");
    (count, ttl)
}

#[tokio::test]
async fn one_key_hit_several_times_in_one_call() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "redis batches") else {
        return;
    };
    let prefix = unique_id("BATCH");
    let storage = open(&url, &prefix).await;
    let limit = per_seconds(5, 60);
    let ids = ["client"];
    let hit = |cost| Hit {
        limit: &limit,
        identifiers: &ids,
        cost,
    };
    // A new key: the first hit costs nothing (it creates the key at 0 and starts the window, as
    // `limits` does), then 2, 2, 2 against an amount of 5.
    let hits = [hit(0), hit(2), hit(2), hit(2)];
    let decisions = storage
        .acquire(Strategy::FixedWindow, &hits, false)
        .await
        .expect("acquire");
    let remaining: Vec<u64> = decisions.iter().map(|d| d.remaining).collect();
    let allowed: Vec<bool> = decisions.iter().map(|d| d.allowed).collect();
    assert_eq!(allowed, [true, true, true, false]);
    assert_eq!(remaining, [5, 3, 1, 0]);
    let now = limiter_core::Timestamp::from(std::time::SystemTime::now());
    for decision in &decisions {
        // Every hit's exact reset: the window started by the first.
        let until = decision.reset_at.saturating_duration_since(now);
        assert!(until.as_secs() >= 58 && until.as_secs() <= 60, "{until:?}");
    }
    // Stored as four INCRBYs would leave it (the rejected hit counted, as `limits`), with the
    // window's expiry.
    let key = format!("{prefix}:LIMITER/client/5/60/second");
    let (count, ttl) = stored(&url, &key).await;
    assert_eq!(count, 6);
    assert!((58_000..=60_000).contains(&ttl), "PTTL {ttl}");

    // Stopping at the first breach: the hits after it are neither counted nor decided.
    let decisions = storage
        .acquire(Strategy::FixedWindow, &[hit(1), hit(1)], true)
        .await
        .expect("acquire");
    assert_eq!(decisions.len(), 1);
    assert!(!decisions[0].allowed);
    assert_eq!(stored(&url, &key).await.0, 7);
}

/// Concurrent requests of one client share calls, and so keys within a call: every admission is
/// still exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_client_are_admitted_exactly() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "redis batches") else {
        return;
    };
    let prefix = unique_id("BATCH");
    let storage = open(&url, &prefix).await;
    let limits = [per_seconds(50, 60), per_seconds(120, 3600)];
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let storage = storage.clone();
        requests.spawn(async move {
            let ids = ["one-client"];
            let hits: Vec<Hit<'_>> = limits
                .iter()
                .map(|limit| Hit {
                    limit,
                    identifiers: &ids,
                    cost: 1,
                })
                .collect();
            let decisions = storage
                .acquire(Strategy::FixedWindow, &hits, true)
                .await
                .expect("acquire");
            decisions.iter().all(|decision| decision.allowed) && decisions.len() == 2
        });
    }
    let mut admitted = 0;
    while let Some(allowed) = requests.join_next().await {
        admitted += u64::from(allowed.unwrap());
    }
    assert_eq!(admitted, 50);
    // The first limit counted every request (50 admitted, 150 rejected); the second only the
    // 50 that passed the first.
    let first = stored(&url, &format!("{prefix}:LIMITER/one-client/50/60/second")).await;
    let second = stored(
        &url,
        &format!("{prefix}:LIMITER/one-client/120/3600/second"),
    )
    .await;
    assert_eq!((first.0, second.0), (200, 50));
    assert!(first.1 > 0 && second.1 > 0, "both expire");
}

/// Many concurrent requests of a few clients over per-client limits and one limit every client
/// shares: the calls carry each key once and the hits as indices into the keys, so one call
/// holds many hits of one key, across limits and requests with different modes. For every key,
/// whatever order the calls and requests came in, the hits must see counts 1, 2, 3, … (admitted
/// while within the amount, the later ones rejected with nothing remaining) and the stored
/// count must be the number of hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_over_few_keys_are_exact() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "redis batches") else {
        return;
    };
    let prefix = unique_id("BATCH");
    let storage = open(&url, &prefix).await;
    const CLIENTS: usize = 3;
    const REQUESTS: usize = 40;
    // Per client 30 a minute and 20 a day, and 50 an hour for everyone (identifier "all").
    let per_client = per_seconds(30, 60);
    let everyone = per_seconds(50, 3600);
    let daily = per_seconds(20, 86_400);
    let mut requests = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        for request in 0..REQUESTS {
            let storage = storage.clone();
            let prefix = prefix.clone();
            let (per_client, everyone, daily) = (per_client, everyone, daily);
            requests.spawn(async move {
                let name = format!("client-{client}");
                let own = [name.as_str()];
                let all = ["all"];
                let hits = [
                    Hit {
                        limit: &per_client,
                        identifiers: &own,
                        cost: 1,
                    },
                    Hit {
                        limit: &everyone,
                        identifiers: &all,
                        cost: 1,
                    },
                    Hit {
                        limit: &daily,
                        identifiers: &own,
                        cost: 1,
                    },
                ];
                // The last client's requests count every limit; the others stop at a breach.
                // Half of them ask for exact reset times, half do not.
                let stop = client + 1 < CLIENTS;
                let reset = if request % 2 == 0 {
                    AdmittedReset::Exact
                } else {
                    AdmittedReset::UpperBound
                };
                let decisions = storage
                    .acquire_with(Strategy::FixedWindow, &hits, stop, reset)
                    .await
                    .expect("acquire");
                let keys = [
                    format!("{prefix}:LIMITER/{name}/30/60/second"),
                    format!("{prefix}:LIMITER/all/50/3600/second"),
                    format!("{prefix}:LIMITER/{name}/20/86400/second"),
                ];
                let amounts = [30, 50, 20];
                (stop, keys, amounts, decisions)
            });
        }
    }
    let mut by_key: std::collections::BTreeMap<String, (u64, Vec<Decision>)> =
        std::collections::BTreeMap::new();
    while let Some(outcome) = requests.join_next().await {
        let (stop, keys, amounts, decisions) = outcome.unwrap();
        // A request stops right after its first rejected hit, or decides all three.
        let first_rejected = decisions.iter().position(|decision| !decision.allowed);
        let expected = match (stop, first_rejected) {
            (true, Some(index)) => index + 1,
            _ => 3,
        };
        assert_eq!(decisions.len(), expected, "{decisions:?}");
        for ((key, amount), decision) in keys.into_iter().zip(amounts).zip(decisions) {
            by_key
                .entry(key)
                .or_insert_with(|| (amount, Vec::new()))
                .1
                .push(decision);
        }
    }
    assert_eq!(by_key.len(), 2 * CLIENTS + 1);
    let everyone_key = format!("{prefix}:LIMITER/all/50/3600/second");
    assert!(by_key.contains_key(&everyone_key));
    for (key, (amount, decisions)) in &by_key {
        let hits = decisions.len() as u64;
        let mut admitted: Vec<u64> = decisions
            .iter()
            .filter(|decision| decision.allowed)
            .map(|decision| decision.remaining)
            .collect();
        admitted.sort_unstable();
        // The hits saw counts 1, 2, …: those within the amount admitted with amount − count
        // remaining, each once.
        let expected: Vec<u64> = (amount.saturating_sub(hits)..*amount).collect();
        assert_eq!(admitted, expected, "{key}");
        assert!(
            decisions
                .iter()
                .filter(|decision| !decision.allowed)
                .all(|decision| decision.remaining == 0),
            "{key}"
        );
        let (count, ttl) = stored(&url, key).await;
        assert_eq!(count, hits, "{key}: one INCRBY per hit");
        assert!(ttl > 0, "{key} expires");
    }
    // Every request of a client reached its per-client limit; the shared one saw more hits
    // than it admits.
    for client in 0..CLIENTS {
        let key = format!("{prefix}:LIMITER/client-{client}/30/60/second");
        assert_eq!(by_key[&key].1.len(), REQUESTS, "{key}");
    }
    assert!(by_key[&everyone_key].1.len() > 50);
}

/// The fixed window first writes each key of a call once, with the cost of all its hits: when
/// every count is within its amount that is the whole call; otherwise the hits are decided one
/// by one and each key set right. Both ways leave what one INCRBY per counted hit leaves.
#[tokio::test]
async fn keys_written_at_once_are_set_right_when_a_hit_is_rejected() {
    let Some(url) = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", "redis batches") else {
        return;
    };
    let prefix = unique_id("BATCH");
    let storage = open(&url, &prefix).await;
    let tight = per_seconds(2, 60);
    let loose = per_seconds(100, 3600);
    let ids = ["client"];
    let tight_key = format!("{prefix}:LIMITER/client/2/60/second");
    let loose_key = format!("{prefix}:LIMITER/client/100/3600/second");
    let hit = |limit, cost| Hit {
        limit,
        identifiers: &ids,
        cost,
    };

    // Every hit admitted: each sees the count before it, the window starts at the first.
    let hits = [hit(&loose, 0), hit(&loose, 2), hit(&loose, 3)];
    let decisions = storage
        .acquire(Strategy::FixedWindow, &hits, true)
        .await
        .expect("acquire");
    let remaining: Vec<u64> = decisions.iter().map(|d| d.remaining).collect();
    assert_eq!(remaining, [100, 98, 95]);
    let now = limiter_core::Timestamp::from(std::time::SystemTime::now());
    for decision in &decisions {
        let until = decision.reset_at.saturating_duration_since(now).as_secs();
        assert!((3590..=3600).contains(&until), "{until}");
    }
    let (count, ttl) = stored(&url, &loose_key).await;
    assert_eq!(count, 5);
    assert!(ttl > 3_590_000, "PTTL {ttl}");

    // The tight limit is rejected at its third hit; the request stops there, so its loose hit
    // after it is not counted, and a new key it would have created does not exist.
    let fresh = per_seconds(7, 60);
    let fresh_key = format!("{prefix}:LIMITER/client/7/60/second");
    let hits = [hit(&tight, 3), hit(&fresh, 1), hit(&loose, 1)];
    let decisions = storage
        .acquire(Strategy::FixedWindow, &hits, true)
        .await
        .expect("acquire");
    assert_eq!(decisions.len(), 1);
    assert!(!decisions[0].allowed);
    assert_eq!(
        stored(&url, &tight_key).await.0,
        3,
        "the rejected hit counts"
    );
    assert_eq!(stored(&url, &loose_key).await.0, 5, "not counted");
    let mut redis = limiter_tests::redis_connection(&url).await;
    let exists: u64 = redis::cmd("EXISTS")
        .arg(&fresh_key)
        .query_async(&mut redis)
        .await
        .expect("EXISTS");
    assert_eq!(exists, 0, "a key no counted hit wrote does not exist");
    assert!(
        stored(&url, &loose_key).await.1 > 3_590_000,
        "its expiry is kept"
    );

    // Without stopping: every hit is counted, the rejected ones too.
    let hits = [hit(&tight, 1), hit(&loose, 1), hit(&tight, 1)];
    let decisions = storage
        .acquire(Strategy::FixedWindow, &hits, false)
        .await
        .expect("acquire");
    let allowed: Vec<bool> = decisions.iter().map(|d| d.allowed).collect();
    assert_eq!(allowed, [false, true, false]);
    assert_eq!(decisions[1].remaining, 94);
    assert_eq!(stored(&url, &tight_key).await.0, 5);
    assert_eq!(stored(&url, &loose_key).await.0, 6);
}
