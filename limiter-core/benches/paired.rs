//! Fixed-window `hit` against governor's `check_key` at 100,000 keys on one thread, measured in
//! alternation (ours, governor, ours, governor, …) so that both see the same machine load, and
//! reported as the median of the per-round ratios — the figure to trust on a shared or noisy
//! machine, beside criterion's absolute times (`benches/memory.rs`).
//!
//! ```sh
//! cargo bench -p limiter-core --bench paired            # 15 rounds
//! cargo bench -p limiter-core --bench paired -- 31      # 31 rounds
//! ```

use governor::{DefaultKeyedRateLimiter, Quota};
use limiter_core::{MemoryStorage, RateLimit, RateLimiter, Strategy};
use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const KEYS: usize = 100_000;
/// Operations per timed round: every key ten times, in a scrambled order.
const OPS: usize = 1_000_000;

fn ready<F: Future>(future: F) -> F::Output {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the memory storage never waits"),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(15);
    let keys: Vec<String> = (0..KEYS)
        .map(|index| format!("10.{}.{}.{}", index >> 16, (index >> 8) & 255, index & 255))
        .collect();
    // A fixed pseudo-random visiting order, the same for both.
    let order: Vec<usize> = (0..OPS)
        .map(|i| (i.wrapping_mul(2_654_435_761) ^ (i >> 7)) % KEYS)
        .collect();

    let limit: RateLimit = "1000000000 per 1 hour".parse().unwrap();
    let ours = RateLimiter::new(Strategy::FixedWindow, MemoryStorage::new()).unwrap();
    let quota = Quota::per_hour(NonZeroU32::new(1_000_000_000).unwrap());
    let theirs: DefaultKeyedRateLimiter<String> = governor::RateLimiter::keyed(quota);
    // Fill both with every key first.
    for key in &keys {
        ready(ours.hit(&limit, &[key, "route"], 1)).unwrap();
        let _ = theirs.check_key(key);
    }

    let mut ours_ns = Vec::new();
    let mut theirs_ns = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        for &index in &order {
            black_box(ready(ours.hit(&limit, &[&keys[index], "route"], 1)).unwrap());
        }
        let a = start.elapsed().as_nanos() as f64 / OPS as f64;
        let start = Instant::now();
        for &index in &order {
            black_box(theirs.check_key(&keys[index]).is_ok());
        }
        let b = start.elapsed().as_nanos() as f64 / OPS as f64;
        ours_ns.push(a);
        theirs_ns.push(b);
        ratios.push(a / b);
    }
    let (min, max) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!(
        "paired, {KEYS} keys, 1 thread, {rounds} rounds of {OPS} ops: fixed-window hit {:.1} ns, \
         governor check_key {:.1} ns (medians); ratio ours/governor {:.2} [{min:.2}..{max:.2}]",
        median(&mut ours_ns),
        median(&mut theirs_ns),
        median(&mut ratios),
    );
}
