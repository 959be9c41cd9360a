//! The memory storage under concurrency and under a flood of distinct keys.

use limiter_core::clock::{ManualClock, Timestamp};
use limiter_core::{MemoryStorage, RateLimit, RateLimiter, Strategy};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 64 tasks × 50 hits on one key against `100 per minute` admit exactly 100, for each strategy,
/// on a multi-threaded runtime so that the hits really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hits_admit_exactly_the_limit() {
    for strategy in Strategy::ALL {
        let limiter = Arc::new(RateLimiter::new(strategy, MemoryStorage::new()).unwrap());
        let limit: RateLimit = "100 per minute".parse().unwrap();
        let admitted = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (limiter, admitted) = (limiter.clone(), admitted.clone());
                tokio::spawn(async move {
                    for _ in 0..50 {
                        if limiter.hit(&limit, &["client", "route"], 1).await.unwrap() {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(admitted.load(Ordering::Relaxed), 100, "{strategy}");
        let stats = limiter
            .window_stats(&limit, &["client", "route"])
            .await
            .unwrap();
        assert_eq!(stats.remaining, 0, "{strategy}");
    }
}

/// The same race with plain OS threads and no runtime in between.
#[test]
fn concurrent_threads_admit_exactly_the_limit() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for strategy in Strategy::ALL {
        let limiter = RateLimiter::new(strategy, MemoryStorage::new()).unwrap();
        let limit: RateLimit = "100 per minute".parse().unwrap();
        let admitted = admitted_on_threads(8, 400, |runtime| {
            runtime.block_on(limiter.hit(&limit, &["k"], 1)).unwrap()
        });
        assert_eq!(admitted, 100, "{strategy}");
        let stats = runtime
            .block_on(limiter.window_stats(&limit, &["k"]))
            .unwrap();
        assert_eq!(stats.remaining, 0);
    }
}

/// A million distinct keys with a 1-second window: once they have expired, a sweep removes every
/// entry and gives the table memory back.
#[tokio::test]
async fn a_flood_of_distinct_keys_is_reclaimed_after_expiry() {
    let clock = ManualClock::new(Timestamp::from_nanos(1_700_000_000_000_000_000));
    let storage = MemoryStorage::builder()
        .clock(clock.clone())
        .sweep_interval(None)
        .build();
    let baseline_capacity = storage.capacity();
    let limiter = RateLimiter::new(Strategy::FixedWindow, storage.clone()).unwrap();
    let limit: RateLimit = "5 per second".parse().unwrap();
    let mut client = String::new();
    for index in 0..1_000_000u32 {
        client.clear();
        client.push_str("10.");
        client.push_str(itoa::Buffer::new().format(index));
        assert!(limiter.hit(&limit, &[&client, "route"], 1).await.unwrap());
    }
    assert_eq!(storage.len(), 1_000_000);
    let flooded_capacity = storage.capacity();
    assert!(flooded_capacity >= 1_000_000);

    // Still inside the window: nothing may be reclaimed.
    clock.advance(Duration::from_millis(999));
    assert_eq!(storage.sweep(), 0);
    assert_eq!(storage.len(), 1_000_000);

    clock.advance(Duration::from_millis(2));
    assert_eq!(storage.sweep(), 1_000_000);
    assert_eq!(storage.len(), 0);
    // The tables shrank back to near their starting size.
    assert!(
        storage.capacity() <= baseline_capacity + 64 * 64,
        "capacity {} after the sweep (was {baseline_capacity} empty, {flooded_capacity} flooded)",
        storage.capacity()
    );
}

/// The background sweeper does the same on the system clock, without being asked.
#[tokio::test]
async fn the_background_sweeper_reclaims_expired_keys() {
    let storage = MemoryStorage::builder()
        .sweep_interval(Some(Duration::from_millis(100)))
        .build();
    let limiter = RateLimiter::new(Strategy::SlidingWindowCounter, storage.clone()).unwrap();
    let one_second: RateLimit = "5 per second".parse().unwrap();
    for index in 0..10_000u32 {
        let client = index.to_string();
        limiter.hit(&one_second, &[&client], 1).await.unwrap();
    }
    assert_eq!(storage.len(), 10_000);
    // Sliding-window state lives for two windows; allow generous slack for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !storage.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(storage.len(), 0);
}

/// Requests checked against two limits at once (the quickstart's shape: both limits under one
/// shard lock), raced on OS threads, admit exactly the smaller limit, and with
/// `stop_at_first_breach` the larger limit counts only the admitted requests.
#[test]
fn concurrent_two_limit_requests_admit_exactly_the_smaller_limit() {
    let limits: [RateLimit; 2] =
        ["100 per minute", "1000 per hour"].map(|text| text.parse().unwrap());
    for strategy in Strategy::ALL {
        let limiter = RateLimiter::new(strategy, MemoryStorage::new()).unwrap();
        let identifiers = ["client", "route"];
        let hits = limits.each_ref().map(|limit| limiter_core::Hit {
            limit,
            identifiers: &identifiers,
            cost: 1,
        });
        let admitted = admitted_on_threads(8, 200, |runtime| {
            let decisions = runtime.block_on(limiter.acquire_all(&hits, true)).unwrap();
            decisions.iter().all(|decision| decision.allowed)
        });
        assert_eq!(admitted, 100, "{strategy}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (limit, remaining) in limits.iter().zip([0, 900]) {
            let stats = runtime
                .block_on(limiter.window_stats(limit, &identifiers))
                .unwrap();
            assert_eq!(stats.remaining, remaining, "{strategy} {limit}");
        }
    }
}

/// Calls `admit` `per_thread` times on each of `threads` OS threads at once, each thread with its
/// own current-thread runtime and no scheduler in between; returns how many calls admitted.
fn admitted_on_threads(
    threads: usize,
    per_thread: usize,
    admit: impl Fn(&tokio::runtime::Runtime) -> bool + Sync,
) -> u64 {
    let admitted = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                for _ in 0..per_thread {
                    if admit(&runtime) {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    admitted.load(Ordering::Relaxed)
}
