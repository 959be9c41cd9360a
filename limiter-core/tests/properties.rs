//! Properties (proptest, bounded case counts so the suite stays fast): the notation and storage
//! URIs survive display then parse; each strategy's decisions on the memory storage equal a
//! simple reference model over random hits and clock steps.

use limiter_core::clock::{ManualClock, Timestamp};
use limiter_core::uri::StorageUri;
use limiter_core::{Granularity, MemoryStorage, RateLimit, RateLimiter, Strategy as LimitStrategy};
use proptest::prelude::*;
use std::collections::HashMap;
use std::time::Duration;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures are reported with their seed; no files written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn granularity() -> impl proptest::strategy::Strategy<Value = Granularity> {
    prop::sample::select(Granularity::ALL.to_vec())
}

/// One limit written any of the ways the notation accepts.
fn written_limit() -> impl proptest::strategy::Strategy<Value = String> {
    (
        0u64..1_000_000,
        0u64..1_000,
        granularity(),
        0usize..4,
        any::<bool>(),
    )
        .prop_map(|(amount, multiples, unit, form, plural)| {
            let word = format!("{unit}{}", if plural { "s" } else { "" });
            match form {
                0 => format!("{amount}/{unit}"),
                1 => format!("{amount} per {unit}"),
                2 => format!("{amount} per {} {word}", multiples.max(1)),
                _ => format!("{amount}/{} {word}", multiples.max(1)),
            }
        })
}

proptest! {
    #![proptest_config(config(512))]

    /// A limit's canonical text parses back to the same limit.
    #[test]
    fn limits_display_then_parse(amount in any::<u64>(), multiples in 0u64..100_000, unit in granularity()) {
        let limit = RateLimit::new(amount, multiples, unit);
        let text = limit.to_string();
        prop_assert_eq!(text.parse::<RateLimit>().unwrap(), limit);
    }

    /// Whatever the form written, parse then display then parse gives the same limits.
    #[test]
    fn notation_parse_then_display(parts in prop::collection::vec(written_limit(), 1..4), separator in prop::sample::select(vec![";", ",", "; "])) {
        let text = parts.join(separator);
        let parsed = limiter_core::parse_many(&text).unwrap();
        let shown: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        let again = limiter_core::parse_many(&shown.join(";")).unwrap();
        prop_assert_eq!(parsed, again);
    }

    /// Any text: parsing never panics.
    #[test]
    fn notation_never_panics(text in ".{0,40}") {
        let _ = limiter_core::parse_many(&text);
    }
}

fn host() -> impl proptest::strategy::Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
    ]
}

fn location() -> impl proptest::strategy::Strategy<Value = String> {
    (host(), 1u16..).prop_map(|(host, port)| format!("{host}:{port}"))
}

/// A storage URI without a password, of every family.
fn uri_without_password() -> impl proptest::strategy::Strategy<Value = String> {
    let locations = || prop::collection::vec(location(), 1..4).prop_map(|l| l.join(","));
    prop_oneof![
        Just("memory://".to_owned()),
        (location(), 0u8..16).prop_map(|(l, db)| format!("redis://{l}/{db}")),
        (location(), "[a-z]{1,8}").prop_map(|(l, user)| format!("valkey://{user}@{l}")),
        locations().prop_map(|l| format!("redis+cluster://{l}")),
        (locations(), "[a-z]{1,8}").prop_map(|(l, s)| format!("redis+sentinel://{l}/{s}")),
        locations().prop_map(|l| format!("memcached://{l}")),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// A URI without a password: parse, display, parse again gives the same configuration.
    #[test]
    fn uris_parse_then_display(uri in uri_without_password()) {
        let parsed = StorageUri::parse(&uri).unwrap();
        let shown = parsed.to_string();
        prop_assert_eq!(StorageUri::parse(&shown).unwrap(), parsed);
    }

    /// A URI with a password: neither Display nor Debug shows it.
    #[test]
    fn uri_passwords_are_never_shown(uri in uri_without_password(), password in "[A-Za-z0-9]{12,20}") {
        let with_password = uri.replacen("://", &format!("://user:{password}@"), 1);
        if let Ok(parsed) = StorageUri::parse(&with_password) {
            prop_assert!(!parsed.to_string().contains(&password), "{}", parsed);
            prop_assert!(!format!("{parsed:?}").contains(&password), "{:?}", parsed);
        }
        prop_assert!(!limiter_core::uri::masked(&with_password).contains(&password));
    }

    /// Any text: parsing never panics.
    #[test]
    fn uri_parsing_never_panics(text in ".{0,60}") {
        let _ = StorageUri::parse(&text);
    }
}

/// The reference model: each strategy as the plain definition of `limits`, on one key.
#[derive(Default)]
struct Model {
    /// Fixed window: (count, window end).
    fixed: (u64, u64),
    /// Moving window: the times of the admitted hits.
    log: Vec<u64>,
    /// Sliding window counter: admitted hits per clock-aligned bucket.
    buckets: HashMap<u64, u64>,
}

impl Model {
    fn hit(
        &mut self,
        strategy: LimitStrategy,
        amount: u64,
        expiry: u64,
        now: u64,
        cost: u64,
    ) -> bool {
        match strategy {
            LimitStrategy::FixedWindow => {
                // A window opens at the first hit after the last one ended; rejected hits count.
                if now >= self.fixed.1 {
                    self.fixed = (0, now + expiry);
                }
                self.fixed.0 += cost;
                self.fixed.0 <= amount
            }
            LimitStrategy::MovingWindow => {
                // At most `amount` admitted hits in any window of `expiry` ending now.
                let in_window = self.log.iter().filter(|&&t| t + expiry >= now).count() as u64;
                let allowed = in_window + cost <= amount;
                if allowed {
                    self.log.extend(std::iter::repeat_n(now, cost as usize));
                }
                allowed
            }
            _ => {
                // The previous bucket weighted by its share still inside the sliding window.
                let bucket = now / expiry;
                let current = self.buckets.get(&bucket).copied().unwrap_or(0);
                let previous = bucket
                    .checked_sub(1)
                    .and_then(|b| self.buckets.get(&b).copied())
                    .unwrap_or(0);
                let share = u128::from(expiry - now % expiry);
                let weighted = (u128::from(previous) * share / u128::from(expiry)) as u64 + current;
                let allowed = cost <= amount && weighted + cost <= amount;
                if allowed {
                    *self.buckets.entry(bucket).or_default() += cost;
                }
                allowed
            }
        }
    }
}

/// One step of a run: move the clock forward by this many milliseconds, then hit with a cost.
fn steps() -> impl proptest::strategy::Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0u64..2_500, 1u64..4), 1..60)
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn strategies_match_the_reference_model(
        strategy in prop::sample::select(vec![LimitStrategy::FixedWindow, LimitStrategy::MovingWindow, LimitStrategy::SlidingWindowCounter]),
        amount in 1u64..6,
        seconds in 1u64..3,
        start in 1_600_000_000u64..1_700_000_000,
        steps in steps(),
    ) {
        let clock = ManualClock::new(Timestamp::from_nanos(start * 1_000_000_000));
        let storage = MemoryStorage::builder().clock(clock.clone()).sweep_interval(None).build();
        let limiter = RateLimiter::new(strategy, storage).unwrap();
        let limit = RateLimit::new(amount, seconds, Granularity::Second);
        let expiry = seconds * 1_000_000_000;
        let mut model = Model::default();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut now = start * 1_000_000_000;
        for (index, (step_ms, cost)) in steps.into_iter().enumerate() {
            clock.advance(Duration::from_millis(step_ms));
            now += step_ms * 1_000_000;
            let expected = model.hit(strategy, amount, expiry, now, cost);
            let decision = runtime.block_on(limiter.acquire(&limit, &["k"], cost)).unwrap();
            prop_assert_eq!(decision.allowed, expected, "{} hit {} at {} ns (cost {})", strategy, index, now, cost);
        }
    }
}
