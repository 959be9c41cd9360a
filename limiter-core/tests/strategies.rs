//! Each strategy's semantics on the memory storage, with an injected clock, including the worked
//! example of §2.3 of the behaviour specification (`4/minute`, first hit 30 s into a clock minute).

use limiter_core::clock::{Clock, ManualClock, Timestamp};
use limiter_core::{Hit, MemoryStorage, RateLimit, RateLimiter, Strategy};
use std::time::Duration;

/// 30 s into a clock minute.
const START: u64 = 28_333_333 * 60 + 30;

fn limiter(strategy: Strategy) -> (RateLimiter, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_nanos(START * 1_000_000_000));
    let storage = MemoryStorage::builder()
        .clock(clock.clone())
        .sweep_interval(None)
        .build();
    (RateLimiter::new(strategy, storage).unwrap(), clock)
}

fn limit(text: &str) -> RateLimit {
    text.parse().unwrap()
}

fn seconds_after_start(clock: &ManualClock, seconds: f64) {
    clock.set(Timestamp::from_nanos(
        START * 1_000_000_000 + (seconds * 1e9) as u64,
    ));
}

const KEY: &[&str] = &["127.0.0.1", "fast"];

/// One row of the worked example: at `t`, hit once and expect `allowed`.
async fn step(limiter: &RateLimiter, clock: &ManualClock, t: f64, allowed: bool) {
    seconds_after_start(clock, t);
    let decision = limiter.acquire(&limit("4/minute"), KEY, 1).await.unwrap();
    assert_eq!(
        decision.allowed,
        allowed,
        "{} at t={t}: expected {}",
        limiter.strategy(),
        if allowed { "allow" } else { "reject" }
    );
}

async fn first_four_hits(limiter: &RateLimiter, clock: &ManualClock, reset_after: u64) {
    for expected_remaining in [3, 2, 1, 0] {
        seconds_after_start(clock, 0.0);
        let decision = limiter.acquire(&limit("4/minute"), KEY, 1).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
        assert_eq!(decision.reset_at.as_secs(), START + reset_after);
    }
    step(limiter, clock, 0.0, false).await;
}

#[tokio::test]
async fn worked_example_fixed_window() {
    let (limiter, clock) = limiter(Strategy::FixedWindow);
    first_four_hits(&limiter, &clock, 60).await;
    step(&limiter, &clock, 35.0, false).await;
    let stats = limiter.window_stats(&limit("4/minute"), KEY).await.unwrap();
    assert_eq!(
        stats.reset_at.as_secs() - clock.now().as_secs(),
        25,
        "reset in 25"
    );
    step(&limiter, &clock, 35.0, false).await;
    step(&limiter, &clock, 40.0, false).await;
    step(&limiter, &clock, 61.0, true).await;
}

#[tokio::test]
async fn worked_example_moving_window() {
    let (limiter, clock) = limiter(Strategy::MovingWindow);
    first_four_hits(&limiter, &clock, 60).await;
    step(&limiter, &clock, 35.0, false).await;
    step(&limiter, &clock, 35.0, false).await;
    step(&limiter, &clock, 40.0, false).await;
    step(&limiter, &clock, 61.0, true).await;
}

#[tokio::test]
async fn worked_example_sliding_window_counter() {
    let (limiter, clock) = limiter(Strategy::SlidingWindowCounter);
    // The current bucket is clock-aligned: it ends 30 s after the first hit.
    first_four_hits(&limiter, &clock, 30).await;
    // Previous bucket 4 × 55/60 = 3.67 → 3, + 1 ≤ 4.
    step(&limiter, &clock, 35.0, true).await;
    // 3.67 + 1 = 4.67 → 4, + 1 > 4.
    step(&limiter, &clock, 35.0, false).await;
    step(&limiter, &clock, 40.0, false).await;
    step(&limiter, &clock, 61.0, true).await;
}

#[tokio::test]
async fn fixed_window_is_anchored_at_the_first_hit_and_counts_rejected_hits() {
    let (limiter, clock) = limiter(Strategy::FixedWindow);
    let two = limit("2 per 10 seconds");
    seconds_after_start(&clock, 0.0);
    assert!(limiter.hit(&two, KEY, 1).await.unwrap());
    seconds_after_start(&clock, 9.0);
    assert!(limiter.hit(&two, KEY, 1).await.unwrap());
    // Rejected hits still count: the counter goes past the amount.
    assert!(!limiter.hit(&two, KEY, 1).await.unwrap());
    assert!(!limiter.hit(&two, KEY, 1).await.unwrap());
    let stats = limiter.window_stats(&two, KEY).await.unwrap();
    assert_eq!((stats.remaining, stats.reset_at.as_secs()), (0, START + 10));
    // The window ends 10 s after the first hit, not at a clock boundary.
    seconds_after_start(&clock, 10.0);
    assert!(limiter.hit(&two, KEY, 1).await.unwrap());
    let stats = limiter.window_stats(&two, KEY).await.unwrap();
    assert_eq!((stats.remaining, stats.reset_at.as_secs()), (1, START + 20));
}

#[tokio::test]
async fn test_consumes_nothing_on_every_strategy() {
    for strategy in Strategy::ALL {
        let (limiter, _clock) = limiter(strategy);
        let three = limit("3/minute");
        for _ in 0..10 {
            assert!(limiter.test(&three, KEY, 3).await.unwrap(), "{strategy}");
        }
        assert!(!limiter.test(&three, KEY, 4).await.unwrap(), "{strategy}");
        assert!(limiter.hit(&three, KEY, 2).await.unwrap());
        assert!(limiter.test(&three, KEY, 1).await.unwrap(), "{strategy}");
        assert!(!limiter.test(&three, KEY, 2).await.unwrap(), "{strategy}");
        let stats = limiter.window_stats(&three, KEY).await.unwrap();
        assert_eq!(stats.remaining, 1, "{strategy}");
    }
}

#[tokio::test]
async fn cost_above_the_amount_is_always_rejected() {
    for strategy in Strategy::ALL {
        let (limiter, _clock) = limiter(strategy);
        let five = limit("5/minute");
        assert!(!limiter.hit(&five, KEY, 6).await.unwrap(), "{strategy}");
        let remaining = limiter.window_stats(&five, KEY).await.unwrap().remaining;
        // Only the fixed window writes a rejected hit (its counter keeps counting).
        let expected = if strategy == Strategy::FixedWindow {
            0
        } else {
            5
        };
        assert_eq!(remaining, expected, "{strategy}");
    }
}

#[tokio::test]
async fn amount_zero_always_blocks() {
    for strategy in Strategy::ALL {
        let (limiter, clock) = limiter(strategy);
        let zero = limit("0/second");
        for _ in 0..3 {
            assert!(!limiter.hit(&zero, KEY, 1).await.unwrap(), "{strategy}");
            clock.advance(Duration::from_secs(5));
        }
    }
}

#[tokio::test]
async fn clear_forgets_the_state() {
    for strategy in Strategy::ALL {
        let (limiter, _clock) = limiter(strategy);
        let one = limit("1/hour");
        assert!(limiter.hit(&one, KEY, 1).await.unwrap());
        assert!(!limiter.hit(&one, KEY, 1).await.unwrap());
        limiter.clear(&one, KEY).await.unwrap();
        assert!(limiter.hit(&one, KEY, 1).await.unwrap(), "{strategy}");
    }
}

#[tokio::test]
async fn keys_are_independent() {
    for strategy in Strategy::ALL {
        let (limiter, _clock) = limiter(strategy);
        let one = limit("1/hour");
        assert!(limiter.hit(&one, &["a", "route"], 1).await.unwrap());
        assert!(limiter.hit(&one, &["b", "route"], 1).await.unwrap());
        assert!(limiter.hit(&one, &["a", "other"], 1).await.unwrap());
        // Another limit on the same identifiers is another counter.
        assert!(limiter
            .hit(&limit("1/minute"), &["a", "route"], 1)
            .await
            .unwrap());
        assert!(
            !limiter.hit(&one, &["a", "route"], 1).await.unwrap(),
            "{strategy}"
        );
    }
}

#[tokio::test]
async fn identifiers_that_join_into_the_same_string_stay_apart_in_memory() {
    // Python's memory storage merges these by accident (it keys on the joined string).
    let (limiter, _clock) = limiter(Strategy::FixedWindow);
    let one = limit("1/hour");
    assert!(limiter.hit(&one, &["a/b", "c"], 1).await.unwrap());
    assert!(limiter.hit(&one, &["a", "b/c"], 1).await.unwrap());
    assert!(!limiter.hit(&one, &["a/b", "c"], 1).await.unwrap());
}

#[tokio::test]
async fn moving_window_frees_capacity_hit_by_hit() {
    let (limiter, clock) = limiter(Strategy::MovingWindow);
    let two = limit("2 per 10 seconds");
    seconds_after_start(&clock, 0.0);
    assert!(limiter.hit(&two, KEY, 1).await.unwrap());
    seconds_after_start(&clock, 4.0);
    assert!(limiter.hit(&two, KEY, 1).await.unwrap());
    seconds_after_start(&clock, 9.0);
    assert!(!limiter.hit(&two, KEY, 1).await.unwrap());
    let stats = limiter.window_stats(&two, KEY).await.unwrap();
    // The oldest hit (t=0) leaves the window at t=10.
    assert_eq!((stats.remaining, stats.reset_at.as_secs()), (0, START + 10));
    // A hit exactly `expiry` old is still inside the window, as in `limits` (>=).
    seconds_after_start(&clock, 10.0);
    assert!(!limiter.hit(&two, KEY, 1).await.unwrap());
    seconds_after_start(&clock, 10.5);
    assert!(limiter.hit(&two, KEY, 1).await.unwrap());
    assert!(!limiter.hit(&two, KEY, 1).await.unwrap());
    seconds_after_start(&clock, 14.5);
    assert!(limiter.hit(&two, KEY, 1).await.unwrap());
}

#[tokio::test]
async fn moving_window_cost_takes_several_slots() {
    let (limiter, _clock) = limiter(Strategy::MovingWindow);
    let five = limit("5/minute");
    assert!(limiter.hit(&five, KEY, 3).await.unwrap());
    assert!(!limiter.hit(&five, KEY, 3).await.unwrap());
    assert!(limiter.hit(&five, KEY, 2).await.unwrap());
    assert_eq!(limiter.window_stats(&five, KEY).await.unwrap().remaining, 0);
}

#[tokio::test]
async fn sliding_window_counter_weights_the_previous_bucket() {
    let (limiter, clock) = limiter(Strategy::SlidingWindowCounter);
    let ten = limit("10/minute");
    // 30 s into bucket n: fill it.
    seconds_after_start(&clock, 0.0);
    assert!(limiter.hit(&ten, KEY, 10).await.unwrap());
    assert!(!limiter.hit(&ten, KEY, 1).await.unwrap());
    // 45 s into bucket n+1 (t=75): previous weighs 10 × 15/60 = 2.5 → 2; 8 fit.
    seconds_after_start(&clock, 75.0);
    assert!(limiter.test(&ten, KEY, 8).await.unwrap());
    assert!(!limiter.test(&ten, KEY, 9).await.unwrap());
    let stats = limiter.window_stats(&ten, KEY).await.unwrap();
    assert_eq!(stats.remaining, 8);
    // The weighted count next drops by one when 15 s mod 6 s = 3 s have passed.
    assert_eq!(stats.reset_at.as_secs(), START + 78);
    assert!(limiter.hit(&ten, KEY, 8).await.unwrap());
    assert!(!limiter.hit(&ten, KEY, 1).await.unwrap());
    // Two buckets later nothing is left.
    seconds_after_start(&clock, 150.0);
    let stats = limiter.window_stats(&ten, KEY).await.unwrap();
    assert_eq!(stats.remaining, 10);
    assert_eq!(stats.reset_at, clock.now(), "nothing counted: resets now");
}

#[tokio::test]
async fn batches_count_in_order_and_can_stop_at_the_first_breach() {
    let (limiter, _clock) = limiter(Strategy::FixedWindow);
    let (one, five) = (limit("1/second"), limit("5/minute"));
    let hits = [
        Hit {
            limit: &one,
            identifiers: KEY,
            cost: 1,
        },
        Hit {
            limit: &five,
            identifiers: KEY,
            cost: 1,
        },
    ];
    let decisions = limiter.acquire_all(&hits, true).await.unwrap();
    assert!(decisions.iter().all(|decision| decision.allowed));
    // The 1/second limit rejects; the 5/minute one is not counted.
    let decisions = limiter.acquire_all(&hits, true).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert!(!decisions[0].allowed);
    assert_eq!(limiter.window_stats(&five, KEY).await.unwrap().remaining, 4);
    // Without stopping, every limit is counted (Flask-Limiter's fail_on_first_breach=False).
    let decisions = limiter.acquire_all(&hits, false).await.unwrap();
    assert_eq!(decisions.len(), 2);
    assert!(!decisions[0].allowed && decisions[1].allowed);
    assert_eq!(limiter.window_stats(&five, KEY).await.unwrap().remaining, 3);
}

#[tokio::test]
async fn reset_forgets_everything() {
    let (limiter, _clock) = limiter(Strategy::FixedWindow);
    let one = limit("1/hour");
    for client in ["a", "b", "c"] {
        assert!(limiter.hit(&one, &[client], 1).await.unwrap());
    }
    assert_eq!(limiter.storage().reset().await.unwrap(), Some(3));
    assert!(limiter.hit(&one, &["a"], 1).await.unwrap());
}

/// GCRA on the worked example: `4/minute` is one hit per 15 s with a burst of 4. The four pass
/// at once, then one every 15 s: reset is when the bucket is full again, or for a rejected hit
/// when it would pass.
#[tokio::test]
async fn worked_example_gcra() {
    let (limiter, clock) = limiter(Strategy::GCRA);
    for expected_remaining in [3, 2, 1, 0] {
        let decision = limiter.acquire(&limit("4/minute"), KEY, 1).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
        // Full again 15 s per hit taken.
        assert_eq!(
            decision.reset_at.as_secs(),
            START + 15 * (4 - expected_remaining)
        );
    }
    let rejected = limiter.acquire(&limit("4/minute"), KEY, 1).await.unwrap();
    assert!(!rejected.allowed);
    assert_eq!(rejected.reset_at.as_secs(), START + 15, "passes in 15 s");
    step(&limiter, &clock, 14.0, false).await;
    step(&limiter, &clock, 15.0, true).await;
    step(&limiter, &clock, 29.0, false).await;
    // 35 s: 20 s after the last admitted hit, one interval (and a third) emitted: one passes.
    step(&limiter, &clock, 35.0, true).await;
    step(&limiter, &clock, 35.0, false).await;
    // Idle for a minute: the full burst again.
    seconds_after_start(&clock, 95.0);
    let stats = limiter.window_stats(&limit("4/minute"), KEY).await.unwrap();
    assert_eq!((stats.remaining, stats.reset_at), (4, clock.now()));
}

/// The burst is a property of the strategy: 1 spaces every hit by the interval, more lets
/// that many through at once, the sustained rate staying the limit's.
#[tokio::test]
async fn gcra_burst_overrides_the_amount() {
    use std::num::NonZeroU64;
    let ten = limit("10/second");
    let (smooth, clock) = limiter(Strategy::GCRA.with_gcra_burst(NonZeroU64::new(1)));
    assert!(smooth.hit(&ten, KEY, 1).await.unwrap());
    assert!(!smooth.hit(&ten, KEY, 1).await.unwrap());
    clock.advance(Duration::from_millis(100));
    assert!(smooth.hit(&ten, KEY, 1).await.unwrap());
    assert!(!smooth.hit(&ten, KEY, 1).await.unwrap());

    let (bursty, clock) = limiter(Strategy::Gcra {
        burst: NonZeroU64::new(25),
    });
    for _ in 0..25 {
        assert!(bursty.hit(&ten, KEY, 1).await.unwrap());
    }
    assert!(!bursty.hit(&ten, KEY, 1).await.unwrap());
    // Over the next second, the limit's rate: ten more.
    let mut admitted = 0;
    for _ in 0..100 {
        clock.advance(Duration::from_millis(10));
        admitted += usize::from(bursty.hit(&ten, KEY, 1).await.unwrap());
    }
    assert_eq!(admitted, 10);
}

/// The memory storage keeps 8 bytes of GCRA state per key, swept once the bucket is full.
#[tokio::test]
async fn gcra_state_is_swept_when_full_again() {
    let clock = ManualClock::new(Timestamp::from_nanos(START * 1_000_000_000));
    let storage = MemoryStorage::builder()
        .clock(clock.clone())
        .sweep_interval(None)
        .build();
    let limiter = RateLimiter::new(Strategy::GCRA, storage.clone()).unwrap();
    let two = limit("2/minute");
    for client in ["a", "b", "c"] {
        assert!(limiter.hit(&two, &[client], 1).await.unwrap());
    }
    assert_eq!(storage.len(), 3);
    // One hit of 2/minute is full again 30 s later.
    clock.advance(Duration::from_secs(29));
    assert_eq!(storage.sweep(), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(storage.sweep(), 3);
    assert!(storage.is_empty());
}
