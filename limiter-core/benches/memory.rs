//! `hit` on the memory storage, per strategy, with 1 key and with 100,000 keys, on 1 and on 2
//! threads, beside governor's keyed limiter (`check_key`) measured in the same run.
//!
//! Keys are visited in a scrambled order, as clients arrive: walking them in the order they were
//! created would let the hardware prefetcher hide the cache misses of a store that keeps its
//! keys in allocation order (governor's `String` keys), which real traffic does not allow. For
//! a ratio that holds on a noisy machine, see `benches/paired.rs`.
//!
//! ```sh
//! cargo bench -p limiter-core --bench memory
//! ```

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use governor::{DefaultKeyedRateLimiter, Quota};
use limiter_core::{MemoryStorage, RateLimit, RateLimiter, Strategy};
use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

const KEY_COUNTS: [usize; 2] = [1, 100_000];

/// Polls a future that is ready at once (the memory storage never waits), without a runtime.
fn ready<F: Future>(future: F) -> F::Output {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the memory storage never waits"),
    }
}

fn client_keys(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("10.{}.{}.{}", index >> 16, (index >> 8) & 255, index & 255))
        .collect()
}

/// The key of an iteration: a fixed scramble of the iteration number (a multiplicative hash),
/// so that consecutive iterations hit unrelated keys.
fn key_index(iteration: u64, key_count: usize) -> usize {
    (iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize % key_count
}

/// Runs `iterations` calls of `work` split over `threads` threads; returns the wall time.
fn split_over_threads(threads: usize, iterations: u64, work: impl Fn(u64) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads as u64 {
            let work = &work;
            scope.spawn(move || {
                let share =
                    iterations / threads as u64 + u64::from(thread < iterations % threads as u64);
                for iteration in 0..share {
                    work(iteration * threads as u64 + thread);
                }
            });
        }
    });
    start.elapsed()
}

fn bench_memory(criterion: &mut Criterion) {
    // A limit never reached, so every strategy measures its admitting path.
    let limit: RateLimit = "1000000000 per 1 hour".parse().unwrap();
    for threads in [1, 2] {
        let mut group = criterion.benchmark_group(format!("hit/{threads}-thread"));
        group.throughput(Throughput::Elements(1));
        for key_count in KEY_COUNTS {
            let keys = client_keys(key_count);
            for strategy in Strategy::ALL {
                // The moving window keeps one timestamp per admitted hit: bound it for the bench.
                let limit = match strategy {
                    Strategy::MovingWindow => "100000 per 1 hour".parse().unwrap(),
                    _ => limit,
                };
                let limiter = RateLimiter::new(strategy, MemoryStorage::new()).unwrap();
                let id = BenchmarkId::new(strategy.name(), format!("{key_count}-keys"));
                group.bench_function(id, |bencher| {
                    bencher.iter_custom(|iterations| {
                        split_over_threads(threads, iterations, |iteration| {
                            let key = &keys[key_index(iteration, key_count)];
                            // Over the bounded moving window the hit is rejected: same work.
                            black_box(ready(limiter.hit(&limit, &[key, "route"], 1)).unwrap());
                        })
                    })
                });
            }
            let quota = Quota::per_hour(NonZeroU32::new(1_000_000_000).unwrap());
            let governor: DefaultKeyedRateLimiter<String> = governor::RateLimiter::keyed(quota);
            let id = BenchmarkId::new("governor-check_key", format!("{key_count}-keys"));
            group.bench_function(id, |bencher| {
                bencher.iter_custom(|iterations| {
                    split_over_threads(threads, iterations, |iteration| {
                        let key = &keys[key_index(iteration, key_count)];
                        black_box(governor.check_key(key).is_ok());
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_memory);
criterion_main!(benches);
