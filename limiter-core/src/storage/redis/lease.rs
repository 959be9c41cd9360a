//! Lease mode on Redis (see `storage/lease`): the lease script, the hits it decides, and the
//! sweep that hands back the leases of keys gone quiet.

use super::errors::unexpected;
use super::storage::{Inner, RedisStorage};
use crate::clock::Timestamp;
use crate::storage::hit::{Decisions, Hit};
use crate::storage::lease::{Grant, LeaseConfig, LeaseTable, Spent};
use crate::strategy::{Decision, Strategy};
use redis::{RedisResult, Script, Value};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::sync::{LazyLock, Weak};
use std::time::{Duration, Instant, SystemTime};

static LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lease.lua")));

thread_local! {
    /// The key of a hit paid at once out of a lease: built here, not allocated per request.
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A storage's lease mode: its configuration and the leases it holds.
#[derive(Debug)]
pub(super) struct Leases {
    pub(super) config: LeaseConfig,
    pub(super) table: LeaseTable,
}

impl Leases {
    pub(super) fn new(config: LeaseConfig) -> Leases {
        Leases {
            config,
            table: LeaseTable::default(),
        }
    }
}

/// One call of the lease script.
struct LeaseCall<'a> {
    key: &'a str,
    amount: u64,
    expiry: u64,
    cost: u64,
    share: u32,
    max_units: u64,
    hand_back: u64,
    window_end_ms: u64,
}

impl RedisStorage {
    /// Decides `hits` out of this process's leases without waiting, when the leases cover every
    /// one (lease mode on, fixed window): the web layer then decides in the calling thread, as
    /// on the memory storage. `None`, with nothing spent, when a hit needs the server (or a
    /// rejection remembered by the over-limit cache, which the async path answers as before).
    pub(crate) fn acquire_leased_now(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> Option<Decisions> {
        let leases = self.inner.leases.as_ref()?;
        if strategy != Strategy::FixedWindow || hits.is_empty() {
            return None;
        }
        if let Some(cache) = &self.inner.over_limit {
            if cache.answer(strategy, hits, stop_at_first_breach).is_some() {
                return None;
            }
        }
        let now = Instant::now();
        let prefetch = leases.config.prefetches();
        KEY.with(|key| {
            let mut key = key.borrow_mut();
            let mut spent: SmallVec<[Spent; 4]> = SmallVec::new();
            for hit in hits {
                self.lease_key(hit, &mut key);
                match leases.table.spend_now(&key, hit.cost, now, prefetch) {
                    Some(paid) => {
                        if paid.refill {
                            self.take_next_lease_ahead(leases, &key, hit);
                        }
                        spent.push(paid);
                    }
                    None => {
                        // Not covered: give back what this batch took, and wait on the server.
                        for (hit, paid) in hits.iter().zip(spent) {
                            self.lease_key(hit, &mut key);
                            leases.table.refund(&key, hit.cost, paid, now);
                        }
                        return None;
                    }
                }
            }
            Some(spent.iter().map(|paid| paid.decision).collect())
        })
    }

    /// The server key of `hit`, as the lease script counts it, into `key`.
    fn lease_key(&self, hit: &Hit<'_>, key: &mut String) {
        key.clear();
        key.push_str(&self.inner.key_prefix);
        key.push(':');
        hit.limit.write_key(hit.identifiers, key);
    }

    /// Decides fixed-window hits out of this process's leases, taking a lease (one call) for a
    /// hit its key's lease does not cover.
    pub(super) async fn acquire_leased(
        &self,
        leases: &Leases,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
    ) -> RedisResult<Decisions> {
        let mut decisions = Decisions::new();
        for hit in hits {
            let decision = self.hit_leased(leases, hit).await?;
            decisions.push(decision);
            if stop_at_first_breach && !decision.allowed {
                break;
            }
        }
        Ok(decisions)
    }

    async fn hit_leased(&self, leases: &Leases, hit: &Hit<'_>) -> RedisResult<Decision> {
        let mut key = String::with_capacity(self.inner.key_prefix.len() + 64);
        self.lease_key(hit, &mut key);
        loop {
            let lease = leases.table.get(&key);
            {
                let mut state = lease.state.lock();
                if state.is_retired() {
                    continue;
                }
                if let Some(decision) = state.spend(hit.cost, Instant::now()) {
                    let refill = leases.config.prefetches() && state.claim_refill();
                    drop(state);
                    if refill {
                        self.take_next_lease_ahead(leases, &key, hit);
                    }
                    return Ok(decision);
                }
            }
            // Held across the call below: this key's other requests wait for its grant.
            let _taking = lease.taking.lock().await;
            let now = Instant::now();
            let (hand_back, window_end_ms) = {
                let mut state = lease.state.lock();
                if state.is_retired() {
                    continue;
                }
                // Another request may have taken a lease while this one waited.
                if let Some(decision) = state.spend(hit.cost, now) {
                    return Ok(decision);
                }
                // Ended before the call: if the call fails, its units stay counted on the
                // server (fewer admissions, never more) until the window ends.
                state.end(now)
            };
            let grant = self
                .lease(&LeaseCall {
                    key: &key,
                    amount: hit.limit.amount(),
                    expiry: hit.limit.expiry_seconds(),
                    cost: hit.cost,
                    share: leases.config.share_of_remaining(),
                    max_units: leases.config.max_units_per_lease(),
                    hand_back,
                    window_end_ms,
                })
                .await?;
            let at = Timestamp::from(SystemTime::now());
            // Measured from before the call, so the lease never outlives the server's window.
            let duration = leases.config.lease_duration();
            let (decision, refill) = {
                let mut state = lease.state.lock();
                let decision = state.start(grant, hit.cost, now, at, duration);
                let refill = decision.allowed && leases.config.prefetches() && state.claim_refill();
                (decision, refill)
            };
            if refill {
                // Waits for this call's `taking` to be released.
                self.take_next_lease_ahead(leases, &key, hit);
            }
            return Ok(decision);
        }
    }

    /// Takes `key`'s next lease in the background while the running one still pays for hits
    /// (its hit claimed it, [`LeaseState::claim_refill`](crate::storage::lease)), so that a hot
    /// key's requests do not wait for the grant's round trip when the lease runs out. Holds the
    /// key's `taking` lock across the call, as a request taking a lease does.
    fn take_next_lease_ahead(&self, leases: &Leases, key: &str, hit: &Hit<'_>) {
        let lease = leases.table.get(key);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Outside a runtime: no lease ahead; the next one is taken when this one runs out.
            lease.state.lock().stop_taking_ahead();
            return;
        };
        let storage = self.clone();
        let key = key.to_owned();
        let (amount, expiry) = (hit.limit.amount(), hit.limit.expiry_seconds());
        let config = leases.config;
        runtime.spawn(async move {
            let _taking = lease.taking.lock().await;
            if !lease.state.lock().still_wants_refill(Instant::now()) {
                return;
            }
            let now = Instant::now();
            // The smallest cost, 1: a grant of at least one unit while any remain.
            let grant = storage
                .bounded(storage.lease(&LeaseCall {
                    key: &key,
                    amount,
                    expiry,
                    cost: 1,
                    share: config.share_of_remaining(),
                    max_units: config.max_units_per_lease(),
                    hand_back: 0,
                    window_end_ms: 0,
                }))
                .await
                .ok();
            let at = Timestamp::from(SystemTime::now());
            lease
                .state
                .lock()
                .top_up(grant, now, at, config.lease_duration());
        });
    }

    /// Hands `units` back to `key`'s window ending at `window_end_ms` (server clock).
    async fn hand_back(&self, key: &str, units: u64, window_end_ms: u64) -> RedisResult<()> {
        self.lease(&LeaseCall {
            key,
            amount: 0,
            expiry: 0,
            cost: 0,
            share: 1,
            max_units: 0,
            hand_back: units,
            window_end_ms,
        })
        .await
        .map(drop)
    }

    /// One lease script call (loading the script again after `NOSCRIPT`).
    async fn lease(&self, call: &LeaseCall<'_>) -> RedisResult<Grant> {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(LEASE.get_hash())
            .arg(1)
            .arg(call.key)
            .arg(call.amount)
            .arg(call.expiry)
            .arg(call.cost)
            .arg(call.share)
            .arg(call.max_units)
            .arg(call.hand_back)
            .arg(call.window_end_ms);
        let reply = match self.query(&cmd).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                let mut load = redis::cmd("SCRIPT");
                load.arg("LOAD").arg(include_str!("lease.lua"));
                self.query(&load).await?;
                self.query(&cmd).await?
            }
            other => other?,
        };
        let Value::BulkString(bytes) = reply else {
            return Err(unexpected("not a string"));
        };
        grant(&bytes, call.amount).ok_or_else(|| unexpected("not a lease record"))
    }
}

/// Reads the lease script's record (`'<Bdddd'`) for a limit of `amount`.
fn grant(bytes: &[u8], amount: u64) -> Option<Grant> {
    let (&allowed, numbers) = bytes.split_first()?;
    if numbers.len() != 32 {
        return None;
    }
    let number = |index: usize| {
        let mut le_bytes = [0; 8];
        le_bytes.copy_from_slice(&numbers[8 * index..8 * index + 8]);
        f64::from_le_bytes(le_bytes)
    };
    // `as` saturates, and turns NaN and negatives into 0.
    let count = number(1) as u64;
    Some(Grant {
        allowed: allowed == 1,
        units: number(0) as u64,
        remaining: amount.saturating_sub(count),
        until_reset: Duration::from_millis(number(2) as u64),
        window_end_ms: number(3) as u64,
    })
}

/// Starts the sweep of the storage `inner` on the current tokio runtime (none outside one:
/// leases are then handed back only when their key is hit again). Every `period` it hands back
/// the leases that have ended; it stops when the storage is dropped.
pub(super) fn start_sweep(inner: Weak<Inner>, period: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // Not held between ticks, so that dropping the storage ends the sweep.
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let storage = RedisStorage { inner };
            let Some(leases) = &storage.inner.leases else {
                return;
            };
            for (key, units, window_end_ms) in leases.table.sweep(Instant::now()) {
                // On failure the units stay counted until the window ends: fewer admissions.
                let _ = storage
                    .bounded(storage.hand_back(&key, units, window_end_ms))
                    .await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::grant;
    use std::time::Duration;

    #[test]
    fn lease_records_are_read_whole() {
        let mut bytes = vec![1];
        for number in [10.0_f64, 37.0, 59_000.0, 1_000_059_000.0] {
            bytes.extend_from_slice(&number.to_le_bytes());
        }
        let read = grant(&bytes, 100).unwrap();
        assert!(read.allowed);
        assert_eq!(read.units, 10);
        assert_eq!(read.remaining, 63);
        assert_eq!(read.until_reset, Duration::from_secs(59));
        assert_eq!(read.window_end_ms, 1_000_059_000);
        assert_eq!(grant(&bytes[..20], 100), None);
    }
}
