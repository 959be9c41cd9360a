//! Redis Cluster: a request whose limits live in several slots is decided by one script call per
//! slot, all at once, and stays exact: `stop_at_first_breach` leaves the limits after a breached
//! one uncounted (what a slot counted meanwhile is refunded), concurrent requests admit exactly
//! the limit, and concurrent requests share each slot's call. Calls are counted with
//! `INFO commandstats` on each master.
//!
//! A test binary of its own, run alone (`.config/nextest.toml`), so that no other test's scripts
//! are counted; within a `cargo test` run its tests take a lock.

use limiter_core::{Decisions, Granularity, Hit, RateLimit, RedisStorage, Storage, Strategy};
use limiter_tests::suite::unique_id;
use redis::aio::MultiplexedConnection;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test cluster's masters: a connection to each, and the slot ranges it owns.
struct Masters {
    nodes: Vec<(MultiplexedConnection, Vec<(u16, u16)>)>,
}

impl Masters {
    /// `None` (skipped) when the test cluster is not configured.
    async fn open() -> Option<(String, Masters)> {
        let url = limiter_tests::server_env("LIMITER_TEST_REDIS_CLUSTER_URL", "redis cluster")?;
        let seed = url
            .trim_start_matches("redis+cluster://")
            .split(',')
            .next()
            .expect("a seed node")
            .to_owned();
        let mut connection = limiter_tests::redis_connection(&format!("redis://{seed}")).await;
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut connection)
            .await
            .expect("CLUSTER NODES");
        let mut masters = Vec::new();
        // `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <state> <slot ranges…>`
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") {
                continue;
            }
            let address = fields[1].split('@').next().expect("address");
            let ranges = fields[8..]
                .iter()
                .filter_map(|range| {
                    let (start, end) = range.split_once('-').unwrap_or((range, range));
                    Some((start.parse().ok()?, end.parse().ok()?))
                })
                .collect();
            let connection = limiter_tests::redis_connection(&format!("redis://{address}")).await;
            masters.push((connection, ranges));
        }
        assert_eq!(masters.len(), 3, "a three-master cluster: {nodes}");
        Some((url, Masters { nodes: masters }))
    }

    /// Which master owns `key`.
    async fn master_of(&mut self, key: &str) -> usize {
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut self.nodes[0].0)
            .await
            .expect("CLUSTER KEYSLOT");
        self.nodes
            .iter()
            .position(|(_, ranges)| {
                ranges
                    .iter()
                    .any(|&(start, end)| (start..=end).contains(&slot))
            })
            .expect("a master owns every slot")
    }

    /// Script calls on each master since `before` (an earlier [`script_calls`](Self::script_calls)).
    async fn calls_since(&mut self, before: &[u64]) -> Vec<u64> {
        let after = self.script_calls().await;
        after.iter().zip(before).map(|(a, b)| a - b).collect()
    }

    /// Script calls so far on each master.
    async fn script_calls(&mut self) -> Vec<u64> {
        let mut calls = Vec::new();
        for (connection, _) in &mut self.nodes {
            calls.push(limiter_tests::script_calls(connection).await);
        }
        calls
    }
}

/// Identifiers for each of `limits`, such that limit `i` lives on master `i` under `strategy`.
async fn on_three_masters(
    masters: &mut Masters,
    strategy: Strategy,
    limits: &[RateLimit; 3],
    test: &str,
) -> [Vec<String>; 3] {
    on_masters(masters, strategy, limits, [0, 1, 2], test).await
}

/// Identifiers for each of `limits`, such that limit `i` lives on master `order[i]`.
async fn on_masters(
    masters: &mut Masters,
    strategy: Strategy,
    limits: &[RateLimit; 3],
    order: [usize; 3],
    test: &str,
) -> [Vec<String>; 3] {
    let id = unique_id(test);
    let mut found: [Vec<String>; 3] = Default::default();
    for (index, limit) in limits.iter().enumerate() {
        for route in 0.. {
            let ids = vec![id.clone(), format!("route-{route}")];
            let names: Vec<&str> = ids.iter().map(String::as_str).collect();
            let key = RedisStorage::keys_for("LIMITS", strategy, limit, &names).remove(0);
            if masters.master_of(&key).await == order[index] {
                found[index] = ids;
                break;
            }
        }
    }
    found
}

/// The hits of one request: `limits[i]` for `ids[i]`, cost 1.
fn hits<'a>(limits: &'a [RateLimit; 3], ids: &'a [Vec<&'a str>; 3]) -> [Hit<'a>; 3] {
    [0, 1, 2].map(|i| Hit {
        limit: &limits[i],
        identifiers: &ids[i],
        cost: 1,
    })
}

fn borrowed(ids: &[Vec<String>; 3]) -> [Vec<&str>; 3] {
    [0, 1, 2].map(|i| ids[i].iter().map(String::as_str).collect())
}

fn admitted(decisions: &Decisions) -> Vec<bool> {
    decisions.iter().map(|decision| decision.allowed).collect()
}

/// 64 requests of `limits` for `ids` at once, each answering which of its hits were admitted.
fn concurrent_requests(
    storage: &Storage,
    strategy: Strategy,
    limits: [RateLimit; 3],
    ids: &[Vec<String>; 3],
) -> Vec<tokio::task::JoinHandle<Vec<bool>>> {
    (0..64)
        .map(|_| {
            let storage = storage.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                let ids = borrowed(&ids);
                let decisions = storage
                    .acquire(strategy, &hits(&limits, &ids), true)
                    .await
                    .expect("acquire");
                admitted(&decisions)
            })
        })
        .collect()
}

async fn remaining(storage: &Storage, strategy: Strategy, limit: &RateLimit, ids: &[&str]) -> u64 {
    storage
        .window_stats(strategy, limit, ids)
        .await
        .expect("window stats")
        .remaining
}

/// The test cluster, one test at a time: a storage on it, and its masters with every script
/// loaded; `None` (skipped) when the test cluster is not configured.
async fn cluster() -> Option<(tokio::sync::MutexGuard<'static, ()>, Storage, Masters)> {
    let serial = SERIAL.lock().await;
    let (url, mut masters) = Masters::open().await?;
    let storage = Storage::connect(&url).await.expect("connect");
    warm_up(&storage, &mut masters).await;
    Some((serial, storage, masters))
}

/// Loads every script on every master (the first call of a script on a node is NOSCRIPT, SCRIPT
/// LOAD, EVALSHA), the refund script included: a request breached in its first slot.
async fn warm_up(storage: &Storage, masters: &mut Masters) {
    let limits = [
        RateLimit::new(1, 1, Granularity::Hour),
        RateLimit::new(10, 1, Granularity::Hour),
        RateLimit::new(10, 1, Granularity::Hour),
    ];
    for strategy in Strategy::ALL {
        // Refunds on masters 1 and 2, then on 2 and 0.
        for order in [[0, 1, 2], [1, 2, 0]] {
            let ids = on_masters(masters, strategy, &limits, order, "warm-up").await;
            let ids = borrowed(&ids);
            let hits = hits(&limits, &ids);
            for _ in 0..2 {
                storage
                    .acquire(strategy, &hits, true)
                    .await
                    .expect("warm up");
            }
        }
    }
}

/// Three limits on three masters: one script call on each, none more (no refund without a
/// breach), for every strategy and either `stop_at_first_breach`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_slots_one_call_each() {
    let Some((_serial, storage, mut masters)) = cluster().await else {
        return;
    };
    let limits = [
        RateLimit::new(10, 1, Granularity::Second),
        RateLimit::new(100, 1, Granularity::Minute),
        RateLimit::new(1000, 1, Granularity::Hour),
    ];
    for strategy in Strategy::ALL {
        let ids = on_three_masters(&mut masters, strategy, &limits, "one-call-each").await;
        let ids = borrowed(&ids);
        let hits = hits(&limits, &ids);
        for stop in [true, false] {
            for _ in 0..3 {
                let before = masters.script_calls().await;
                let decisions = storage
                    .acquire(strategy, &hits, stop)
                    .await
                    .expect("acquire");
                let calls = masters.calls_since(&before).await;
                assert_eq!(admitted(&decisions), [true; 3], "{strategy}");
                assert_eq!(calls, [1, 1, 1], "{strategy}: one call per master");
            }
        }
        println!("{strategy}: 3 limits on 3 masters -> 1 script call on each");
    }
}

/// `stop_at_first_breach` across slots, as on one server: the limits after the breached one are
/// neither decided nor counted, whichever slot breaches; those before it are counted; without
/// it every limit is decided and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_at_first_breach_across_slots() {
    let Some((_serial, storage, mut masters)) = cluster().await else {
        return;
    };
    let roomy = RateLimit::new(5, 1, Granularity::Hour);
    for strategy in Strategy::ALL {
        for breached in 0..3 {
            // The limit at `breached` allows one hit, which is spent first.
            let mut limits = [roomy; 3];
            limits[breached] = RateLimit::new(1, 1, Granularity::Hour);
            let ids = on_three_masters(&mut masters, strategy, &limits, "breach").await;
            let ids = borrowed(&ids);
            let hits = hits(&limits, &ids);
            let first = storage
                .acquire(strategy, &hits[breached..=breached], true)
                .await
                .expect("spend the tight limit");
            assert!(first[0].allowed);

            let before = masters.script_calls().await;
            let decisions = storage
                .acquire(strategy, &hits, true)
                .await
                .expect("acquire");
            let calls: u64 = masters.calls_since(&before).await.iter().sum();
            let mut expected = vec![true; breached];
            expected.push(false);
            assert_eq!(
                admitted(&decisions),
                expected,
                "{strategy}, breach at {breached}"
            );
            for (index, limit) in limits.iter().enumerate() {
                let left = remaining(&storage, strategy, limit, &ids[index]).await;
                let want = match index.cmp(&breached) {
                    std::cmp::Ordering::Less => 4,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 5,
                };
                assert_eq!(
                    left, want,
                    "{strategy}, breach at {breached}: limit {index} remaining"
                );
            }
            // One call per master, and one refund on each master holding a counted later hit.
            let refunds = 2 - breached as u64;
            assert_eq!(calls, 3 + refunds, "{strategy}, breach at {breached}");

            // Without stopping, every limit is decided and counted.
            let decisions = storage
                .acquire(strategy, &hits, false)
                .await
                .expect("acquire");
            let mut expected = [true; 3];
            expected[breached] = false;
            assert_eq!(admitted(&decisions), expected, "{strategy}: no stop");
            for (index, limit) in limits.iter().enumerate() {
                if index != breached {
                    let left = remaining(&storage, strategy, limit, &ids[index]).await;
                    let want = if index < breached { 3 } else { 4 };
                    assert_eq!(left, want, "{strategy}, no stop: limit {index}");
                }
            }
        }
        println!("{strategy}: stop_at_first_breach exact across three slots");
    }
}

/// 64 concurrent requests of three limits on three masters, the middle one `10 per hour`: exactly
/// 10 admitted; the first limit counts all 64 requests, the last exactly the 10 admitted (the
/// others' speculative hits are refunded); and the requests share each slot's calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_exact_and_share_calls() {
    let Some((_serial, storage, mut masters)) = cluster().await else {
        return;
    };
    let limits = [
        RateLimit::new(1000, 1, Granularity::Hour),
        RateLimit::new(10, 1, Granularity::Hour),
        RateLimit::new(1000, 1, Granularity::Hour),
    ];
    for strategy in Strategy::ALL {
        let ids = on_three_masters(&mut masters, strategy, &limits, "concurrent").await;
        let before = masters.script_calls().await;
        let requests = concurrent_requests(&storage, strategy, limits, &ids);
        let mut admissions = 0;
        for request in requests {
            let decisions = request.await.expect("request task");
            match decisions.as_slice() {
                [true, true, true] => admissions += 1,
                [true, false] => {}
                other => panic!("{strategy}: {other:?}"),
            }
        }
        let calls: u64 = masters.calls_since(&before).await.iter().sum();
        assert_eq!(admissions, 10, "{strategy}: exactly the limit");
        let ids = borrowed(&ids);
        let counts: Vec<u64> = counted(&storage, strategy, &limits, &ids).await;
        assert_eq!(counts, [64, 10, 10], "{strategy}: hits counted per limit");
        // Without coalescing: 3 calls per request and a refund per rejected one (246).
        assert!(
            calls <= 96,
            "{strategy}: 64 requests took {calls} script calls"
        );
        println!("{strategy}: 64 concurrent requests, 3 slots -> {calls} script calls");
    }
}

/// The hits each limit counted: its amount minus what remains.
async fn counted(
    storage: &Storage,
    strategy: Strategy,
    limits: &[RateLimit; 3],
    ids: &[Vec<&str>; 3],
) -> Vec<u64> {
    let mut counts = Vec::new();
    for (limit, ids) in limits.iter().zip(ids) {
        counts.push(limit.amount() - remaining(storage, strategy, limit, ids).await);
    }
    counts
}

/// Concurrent requests that breach nothing: each slot's requests leave in shared calls (on a
/// current-thread runtime the 64 requests queue before the coalescing task runs).
#[tokio::test]
async fn concurrent_requests_share_each_slots_call() {
    let Some((_serial, storage, mut masters)) = cluster().await else {
        return;
    };
    let limits = [
        RateLimit::new(1000, 1, Granularity::Hour),
        RateLimit::new(1000, 1, Granularity::Hour),
        RateLimit::new(1000, 1, Granularity::Hour),
    ];
    for strategy in Strategy::ALL {
        let ids = on_three_masters(&mut masters, strategy, &limits, "shared").await;
        let before = masters.script_calls().await;
        let requests = concurrent_requests(&storage, strategy, limits, &ids);
        for request in requests {
            assert_eq!(
                request.await.expect("request task"),
                [true; 3],
                "{strategy}"
            );
        }
        let calls = masters.calls_since(&before).await;
        assert!(
            calls.iter().all(|&calls| (1..=4).contains(&calls)),
            "{strategy}: 64 requests took {calls:?} script calls per master"
        );
        let ids = borrowed(&ids);
        let counts = counted(&storage, strategy, &limits, &ids).await;
        assert_eq!(counts, [64, 64, 64], "{strategy}");
        println!(
            "{strategy}: 64 concurrent requests, 3 slots -> {calls:?} script calls per master"
        );
    }
}

/// The slots of a request are asked at once, not one after the other: while the master of the
/// first limit is busy (a script spinning for 400 ms), the masters of the second and third have
/// already run their calls. (One after the other, they would wait for the first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_are_asked_at_once() {
    use std::time::Duration;
    let _serial = SERIAL.lock().await;
    let Some((url, mut masters)) = Masters::open().await else {
        return;
    };
    let storage = Storage::from(
        RedisStorage::builder(&url)
            .timeout(Duration::from_secs(5))
            .build()
            .await
            .expect("connect"),
    );
    warm_up(&storage, &mut masters).await;
    let limits = [
        RateLimit::new(10, 1, Granularity::Minute),
        RateLimit::new(10, 1, Granularity::Minute),
        RateLimit::new(10, 1, Granularity::Minute),
    ];
    for strategy in Strategy::ALL {
        let ids = on_three_masters(&mut masters, strategy, &limits, "at-once").await;
        let before = masters.script_calls().await;
        // A connection of its own, so that the masters' statistics stay readable.
        let mut first = masters.nodes[0].0.clone();
        let busy = tokio::spawn(async move {
            let spin = "local t = redis.call('TIME') local stop = t[1] * 1e6 + t[2] + 400000 \
                        repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= stop return 1";
            let _: i64 = redis::cmd("EVAL")
                .arg(spin)
                .arg(0)
                .query_async(&mut first)
                .await
                .expect("spin");
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let request = {
            let (storage, ids) = (storage.clone(), ids.clone());
            tokio::spawn(async move {
                let ids = borrowed(&ids);
                let decisions = storage
                    .acquire(strategy, &hits(&limits, &ids), true)
                    .await
                    .expect("acquire");
                admitted(&decisions)
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut meanwhile = Vec::new();
        for (connection, _) in &mut masters.nodes[1..] {
            meanwhile.push(limiter_tests::script_calls(connection).await);
        }
        assert!(
            !request.is_finished(),
            "{strategy}: the first master is busy"
        );
        assert_eq!(
            meanwhile,
            [before[1] + 1, before[2] + 1],
            "{strategy}: the second and third masters did not wait for the first"
        );
        busy.await.expect("spin task");
        assert_eq!(request.await.expect("request"), [true; 3], "{strategy}");
        println!("{strategy}: three slots asked at once");
    }
}
