//! Hits per second on the memcached storage, per strategy (fixed window, sliding window
//! counter), with 1 key and with 10,000 keys, one hit at a time (latency-bound) and 32 hits in
//! flight (throughput).
//!
//! Needs real servers: `LIMITER_BENCH_MEMCACHED_URL` (e.g. `memcached://127.0.0.1:21211,127.0.0.1:21212`);
//! without it the bench prints why and measures nothing.
//!
//! ```sh
//! LIMITER_BENCH_MEMCACHED_URL=memcached://127.0.0.1:21211,127.0.0.1:21212 \
//!     cargo bench -p limiter-core --no-default-features --features memcached --bench memcached
//! ```

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use limiter_core::storage::memcached::MemcachedStorage;
use limiter_core::{RateLimit, RateLimiter, Strategy};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY_COUNTS: [usize; 2] = [1, 10_000];
const IN_FLIGHT: [usize; 2] = [1, 32];

fn bench_memcached(criterion: &mut Criterion) {
    let Ok(url) = std::env::var("LIMITER_BENCH_MEMCACHED_URL") else {
        println!(
            "memcached bench: LIMITER_BENCH_MEMCACHED_URL is not set, nothing measured \
             (e.g. LIMITER_BENCH_MEMCACHED_URL=memcached://127.0.0.1:21211,127.0.0.1:21212)"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let storage = runtime
        .block_on(MemcachedStorage::connect(&url))
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"));
    // A limit never reached, so both strategies measure their admitting path.
    let limit: RateLimit = "1000000000 per 1 hour".parse().unwrap();
    let run = std::process::id();
    for strategy in [Strategy::FixedWindow, Strategy::SlidingWindowCounter] {
        let limiter = Arc::new(RateLimiter::new(strategy, storage.clone()).expect("limiter"));
        let mut group = criterion.benchmark_group(format!("memcached/{strategy}"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        for key_count in KEY_COUNTS {
            let keys: Arc<Vec<String>> = Arc::new(
                (0..key_count)
                    .map(|index| format!("bench-{run}-{index}"))
                    .collect(),
            );
            for in_flight in IN_FLIGHT {
                let id = BenchmarkId::new(
                    format!("{key_count}-keys"),
                    format!("{in_flight}-in-flight"),
                );
                group.bench_function(id, |bencher| {
                    bencher.to_async(&runtime).iter_custom(|iterations| {
                        let limiter = Arc::clone(&limiter);
                        let keys = Arc::clone(&keys);
                        async move {
                            let start = Instant::now();
                            let mut tasks = tokio::task::JoinSet::new();
                            for lane in 0..in_flight as u64 {
                                let limiter = Arc::clone(&limiter);
                                let keys = Arc::clone(&keys);
                                tasks.spawn(async move {
                                    let mut index = lane;
                                    while index < iterations {
                                        let key = &keys[index as usize % keys.len()];
                                        let allowed = limiter
                                            .hit(&limit, &[key.as_str(), "bench"], 1)
                                            .await
                                            .expect("hit");
                                        assert!(allowed);
                                        index += in_flight as u64;
                                    }
                                });
                            }
                            while let Some(result) = tasks.join_next().await {
                                result.expect("bench task");
                            }
                            start.elapsed()
                        }
                    });
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench_memcached);
criterion_main!(benches);
