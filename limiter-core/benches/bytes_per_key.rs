//! Resident-memory growth per distinct key: 100,000 clients hit a fixed-window limit on the
//! memory storage, then the same clients hit governor's keyed limiter (its default DashMap
//! store), in the same process. Growth is read from `/proc/self/status` (`VmRSS`) before
//! and after each fill; the keys themselves are created beforehand and not counted. Linux only.
//!
//! ```sh
//! cargo bench -p limiter-core --bench bytes_per_key            # 100,000 keys
//! cargo bench -p limiter-core --bench bytes_per_key -- 1000000 # another count
//! ```

use governor::{DefaultKeyedRateLimiter, Quota};
use limiter_core::{MemoryStorage, RateLimit, RateLimiter, Strategy};
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn ready<F: Future>(future: F) -> F::Output {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the memory storage never waits"),
    }
}

/// Resident bytes of this process (`VmRSS` of `/proc/self/status`, the same count as the
/// resident pages of `/proc/self/statm`, already in kB).
fn resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(100_000);
    let keys: Vec<String> = (0..count)
        .map(|index| format!("10.{}.{}.{}", index >> 16, (index >> 8) & 255, index & 255))
        .collect();
    let limit: RateLimit = "1000000000 per 1 hour".parse().unwrap();

    // The sweeper is off so that nothing else allocates meanwhile (nothing expires anyway).
    let storage = MemoryStorage::builder().sweep_interval(None).build();
    let ours = RateLimiter::new(Strategy::FixedWindow, storage.clone()).unwrap();
    let before = resident();
    for key in &keys {
        ready(ours.hit(&limit, &[key, "route"], 1)).unwrap();
    }
    let ours_bytes = resident().saturating_sub(before);
    assert_eq!(storage.len(), count);

    let quota = Quota::per_hour(NonZeroU32::new(1_000_000_000).unwrap());
    let before = resident();
    let theirs: DefaultKeyedRateLimiter<String> = governor::RateLimiter::keyed(quota);
    for key in &keys {
        let _ = theirs.check_key(key);
    }
    let theirs_bytes = resident().saturating_sub(before);
    assert_eq!(theirs.len(), count);

    println!(
        "resident growth for {count} keys: memory storage (fixed window) {ours_bytes} bytes = \
         {:.1} bytes/key (table capacity {} slots); governor keyed (DashMap, String keys) \
         {theirs_bytes} bytes = {:.1} bytes/key",
        ours_bytes as f64 / count as f64,
        storage.capacity(),
        theirs_bytes as f64 / count as f64,
    );
}
