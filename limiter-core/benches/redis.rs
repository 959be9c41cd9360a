//! Redis storage throughput (hits/s) on a real server: one key and 10,000 keys, each strategy,
//! one limit per request and a batch of three limits per request (one script call either way).
//!
//! `LIMITER_BENCH_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p limiter-core --bench redis`
//! Without the variable the bench prints why and measures nothing.
//!
//! Each measured iteration sends `concurrency` requests at once from a multi-threaded runtime
//! (as concurrent HTTP requests would): 1 (one request after the other: the latency, comparable
//! with the synchronous Python `limits` measured by `scripts/bench-python-limits.py`) and
//! [`CONCURRENCY`]. The reported elements/s are requests decided per second. The limits are
//! large enough that most hits are admitted.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use limiter_core::{Granularity, Hit, RateLimit, Storage, Strategy};
use std::time::Duration;

/// Requests in flight per measured iteration.
const CONCURRENCY: usize = 64;
/// Distinct clients in the many-keys case.
const MANY_KEYS: usize = 10_000;

fn bench_redis(c: &mut Criterion) {
    let Ok(url) = std::env::var("LIMITER_BENCH_REDIS_URL") else {
        println!("SKIPPED: LIMITER_BENCH_REDIS_URL is not set; nothing to measure");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let storage = runtime
        .block_on(Storage::connect(&url))
        .expect("connect to LIMITER_BENCH_REDIS_URL");
    runtime.block_on(storage.reset()).expect("reset");
    let limits = [
        RateLimit::new(1_000_000, 1, Granularity::Hour),
        RateLimit::new(100_000, 1, Granularity::Minute),
        RateLimit::new(10_000, 1, Granularity::Second),
    ];
    // The moving window keeps one entry per admitted hit: a smaller amount keeps its list short.
    let moving = [
        RateLimit::new(1_000, 1, Granularity::Hour),
        RateLimit::new(500, 1, Granularity::Minute),
        RateLimit::new(100, 1, Granularity::Second),
    ];
    let clients: Vec<String> = (0..MANY_KEYS)
        .map(|i| format!("bench-client-{i}"))
        .collect();

    for concurrency in [1, CONCURRENCY] {
        let mut group = c.benchmark_group(format!("redis/{concurrency} in flight"));
        group.throughput(Throughput::Elements(concurrency as u64));
        group.measurement_time(Duration::from_secs(4));
        group.sample_size(20);
        for strategy in Strategy::ALL {
            let limits = if strategy == Strategy::MovingWindow {
                &moving
            } else {
                &limits
            };
            for (case, keys, batch) in [
                ("1 key", 1, 1),
                ("10k keys", MANY_KEYS, 1),
                ("1 key, 3 limits", 1, 3),
                ("10k keys, 3 limits", MANY_KEYS, 3),
            ] {
                let mut next = 0usize;
                group.bench_function(BenchmarkId::new(strategy.name(), case), |b| {
                    b.to_async(&runtime).iter(|| {
                        let start = next;
                        next = next.wrapping_add(concurrency);
                        let storage = &storage;
                        let clients = &clients;
                        async move {
                            let requests = (0..concurrency).map(|i| async move {
                                let client = clients[(start + i) % keys].as_str();
                                let ids = [client, "bench"];
                                let hits: Vec<Hit<'_>> = limits[..batch]
                                    .iter()
                                    .map(|limit| Hit {
                                        limit,
                                        identifiers: &ids,
                                        cost: 1,
                                    })
                                    .collect();
                                storage
                                    .acquire(strategy, &hits, true)
                                    .await
                                    .expect("acquire")
                            });
                            futures_util::future::join_all(requests).await
                        }
                    });
                });
            }
        }
        group.finish();
    }
    runtime.block_on(storage.reset()).expect("reset");
}

criterion_group!(benches, bench_redis);
criterion_main!(benches);
