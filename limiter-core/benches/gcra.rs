//! GCRA on the memory storage against governor's keyed GCRA (`check_key`), in the same run:
//! the same quota on both sides (`1000000000 per 1 hour`, a burst of the amount, never reached,
//! so both measure their admitting path), 1 key and 100,000 keys visited in a scrambled order,
//! one thread. Then, at 1 and at 100,000 keys, ours (through the async `RateLimiter::hit` and
//! through the synchronous `Storage::acquire_all_now`, the call the web layer makes) and governor
//! measured in alternating rounds, so that all see the same machine load, reported as the median
//! of the per-round ratios: the figure to trust on a shared machine.
//!
//! ```sh
//! cargo bench -p limiter-core --bench gcra
//! bench/micro-instructions.sh        # instructions per check, by callgrind (LIMITER_BENCH_COUNT)
//! ```

use criterion::{BenchmarkId, Criterion, Throughput};
use governor::{DefaultKeyedRateLimiter, Quota};
use limiter_core::{Hit, MemoryStorage, RateLimit, RateLimiter, Storage, Strategy};
use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const KEY_COUNTS: [usize; 2] = [1, 100_000];
/// Hits per timed round of the paired measurement: every key ten times.
const PAIRED_OPS: usize = 1_000_000;
const PAIRED_ROUNDS: usize = 15;

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

/// A fixed scramble of the iteration number, so that consecutive hits go to unrelated keys.
fn key_index(iteration: u64, key_count: usize) -> usize {
    (iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize % key_count
}

fn limit() -> RateLimit {
    "1000000000 per 1 hour".parse().unwrap()
}

fn governor() -> DefaultKeyedRateLimiter<String> {
    governor::RateLimiter::keyed(Quota::per_hour(NonZeroU32::new(1_000_000_000).unwrap()))
}

fn bench_gcra(criterion: &mut Criterion) {
    let limit = limit();
    let mut group = criterion.benchmark_group("gcra-vs-governor/1-thread");
    group.throughput(Throughput::Elements(1));
    for key_count in KEY_COUNTS {
        let keys = client_keys(key_count);
        let ours = RateLimiter::new(Strategy::GCRA, MemoryStorage::new()).unwrap();
        let id = BenchmarkId::new("limiter-gcra-hit", format!("{key_count}-keys"));
        group.bench_function(id, |bencher| {
            let mut iteration = 0u64;
            bencher.iter(|| {
                iteration += 1;
                let key = &keys[key_index(iteration, key_count)];
                black_box(ready(ours.hit(&limit, &[key, "route"], 1)).unwrap())
            })
        });
        let theirs = governor();
        let id = BenchmarkId::new("governor-check_key", format!("{key_count}-keys"));
        group.bench_function(id, |bencher| {
            let mut iteration = 0u64;
            bencher.iter(|| {
                iteration += 1;
                let key = &keys[key_index(iteration, key_count)];
                black_box(theirs.check_key(key).is_ok())
            })
        });
    }
    group.finish();
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Ours (GCRA through the async `RateLimiter::hit` and through the synchronous
/// `Storage::acquire_all_now` the web layer calls, and the fixed window as a control) and
/// governor in alternating rounds, at 1 and at 100,000 keys; prints the medians and the median
/// per-round ratios GCRA / governor.
fn paired() {
    for key_count in KEY_COUNTS {
        let keys = client_keys(key_count);
        let order: Vec<usize> = (0..PAIRED_OPS as u64)
            .map(|iteration| key_index(iteration, key_count))
            .collect();
        let limit = limit();
        let gcra = RateLimiter::new(Strategy::GCRA, MemoryStorage::new()).unwrap();
        let gcra_now = Storage::from(MemoryStorage::new());
        let fixed = RateLimiter::new(Strategy::FixedWindow, MemoryStorage::new()).unwrap();
        let theirs = governor();
        let now = |key: &str| {
            let hit = Hit {
                limit: &limit,
                identifiers: &[key, "route"],
                cost: 1,
            };
            let decisions = gcra_now.acquire_all_now(Strategy::GCRA, &[hit], false);
            decisions.unwrap().unwrap()[0].allowed
        };
        for key in &keys {
            ready(gcra.hit(&limit, &[key, "route"], 1)).unwrap();
            now(key);
            ready(fixed.hit(&limit, &[key, "route"], 1)).unwrap();
            let _ = theirs.check_key(key);
        }
        let ns_per_hit = |run: &dyn Fn(&String)| {
            let start = Instant::now();
            for &index in &order {
                run(&keys[index]);
            }
            start.elapsed().as_nanos() as f64 / PAIRED_OPS as f64
        };
        let mut rounds: [Vec<f64>; 4] = Default::default();
        let (mut async_ratios, mut sync_ratios) = (Vec::new(), Vec::new());
        for _ in 0..PAIRED_ROUNDS {
            let ours = ns_per_hit(&|key| {
                black_box(ready(gcra.hit(&limit, &[key.as_str(), "route"], 1)).unwrap());
            });
            let ours_now = ns_per_hit(&|key| {
                black_box(now(key));
            });
            let control = ns_per_hit(&|key| {
                black_box(ready(fixed.hit(&limit, &[key.as_str(), "route"], 1)).unwrap());
            });
            let governor = ns_per_hit(&|key| {
                black_box(theirs.check_key(key).is_ok());
            });
            for (round, value) in rounds.iter_mut().zip([ours, ours_now, control, governor]) {
                round.push(value);
            }
            async_ratios.push(ours / governor);
            sync_ratios.push(ours_now / governor);
        }
        let spread = |ratios: &mut Vec<f64>| {
            let (min, max) = ratios
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
            format!("{:.2} [{min:.2}..{max:.2}]", median(ratios))
        };
        let [ours, ours_now, control, governor] = &mut rounds;
        println!(
            "paired, {key_count} keys, 1 thread, {PAIRED_ROUNDS} rounds of {PAIRED_OPS} hits \
             (medians): limiter GCRA hit {:.1} ns, GCRA acquire_all_now {:.1} ns, fixed window \
             hit {:.1} ns, governor check_key {:.1} ns; ratio GCRA/governor: hit {}, \
             acquire_all_now {}",
            median(ours),
            median(ours_now),
            median(control),
            median(governor),
            spread(&mut async_ratios),
            spread(&mut sync_ratios),
        );
    }
}

/// `LIMITER_BENCH_COUNT=<gcra|gcra-now|fixed|governor>:<keys>:<hits>`: only `hits` checks of one side, in
/// the scrambled order, then exit — for callgrind (`valgrind --tool=callgrind`), where the
/// difference of two runs divided by the difference of their hits is the instructions per check.
fn count_only(spec: &str) {
    let mut parts = spec.split(':');
    let (Some(side), Some(key_count), Some(hits)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("LIMITER_BENCH_COUNT=<gcra|gcra-now|fixed|governor>:<keys>:<hits>");
    };
    let key_count: usize = key_count.parse().unwrap();
    let hits: u64 = hits.parse().unwrap();
    let keys = client_keys(key_count);
    let limit = limit();
    // No sweeper thread: its sweeps would count in every run.
    let storage = || MemoryStorage::builder().sweep_interval(None).build();
    match side {
        "governor" => {
            let theirs = governor();
            for iteration in 0..hits {
                black_box(
                    theirs
                        .check_key(&keys[key_index(iteration, key_count)])
                        .is_ok(),
                );
            }
        }
        "gcra" | "fixed" => {
            let strategy = if side == "gcra" {
                Strategy::GCRA
            } else {
                Strategy::FixedWindow
            };
            let ours = RateLimiter::new(strategy, storage()).unwrap();
            for iteration in 0..hits {
                let key = &keys[key_index(iteration, key_count)];
                black_box(ready(ours.hit(&limit, &[key, "route"], 1)).unwrap());
            }
        }
        // The synchronous batch call the web layer makes (`Storage::acquire_all_now`).
        "gcra-now" => {
            let storage = Storage::from(storage());
            for iteration in 0..hits {
                let key = &keys[key_index(iteration, key_count)];
                let hit = Hit {
                    limit: &limit,
                    identifiers: &[key, "route"],
                    cost: 1,
                };
                let decisions = storage.acquire_all_now(Strategy::GCRA, &[hit], false);
                black_box(decisions.unwrap().unwrap()[0].allowed);
            }
        }
        other => panic!("unknown side {other}"),
    }
}

fn main() {
    if let Ok(spec) = std::env::var("LIMITER_BENCH_COUNT") {
        count_only(&spec);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench_gcra(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs this binary too: only measure when benchmarking.
    if std::env::args().any(|arg| arg == "--bench") {
        paired();
    }
}
