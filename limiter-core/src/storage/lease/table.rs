//! The leases one process holds: per key, what was taken from the server and not yet spent.

use crate::clock::Timestamp;
use crate::strategy::Decision;
use hashbrown::HashMap;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The leases of one storage, by server key.
#[derive(Debug, Default)]
pub(crate) struct LeaseTable {
    /// Hashed with foldhash (seeded at random): a key is hashed on every leased hit, and
    /// SipHash took a tenth of the lease path's instructions.
    entries: Mutex<HashMap<String, Arc<KeyLease>, foldhash::fast::RandomState>>,
}

/// One key's lease.
///
/// Its state sits behind a plain lock, held only while a hit is paid or a grant recorded, so
/// that covered hits are paid without waiting ([`LeaseTable::spend_now`]). Taking a new lease
/// holds `taking` across the server call instead: the key's other requests that the lease no
/// longer covers wait for that one call rather than each taking a lease. While it runs the state
/// holds no running lease (it was ended first), so no hit is paid out of it meanwhile.
#[derive(Debug, Default)]
pub(crate) struct KeyLease {
    pub(crate) state: Mutex<LeaseState>,
    pub(crate) taking: tokio::sync::Mutex<()>,
}

/// What the server granted, as its lease script reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Grant {
    /// Whether the hit that asked fits (it is then paid out of the grant).
    pub allowed: bool,
    /// Units granted, the hit's cost included (0 when rejected).
    pub units: u64,
    /// What the server has left after the grant.
    pub remaining: u64,
    /// How long the key's window lasts yet.
    pub until_reset: Duration,
    /// When the window ends on the server's clock, in milliseconds since the epoch.
    pub window_end_ms: u64,
}

/// One key's lease: units in hand and the window they belong to.
#[derive(Debug, Default)]
pub(crate) struct LeaseState {
    /// Units taken from the server and not yet spent here.
    budget: u64,
    /// When the lease ends (its unspent units go back); `None`: no lease.
    lease_end: Option<Instant>,
    /// When the window of the lease ends, on this process's clock: the units are void after.
    window_end: Option<Instant>,
    /// The same end on the server's clock (ms): units go back only into that window.
    window_end_ms: u64,
    /// The window's reset, reported with every decision.
    reset_at: Timestamp,
    /// What the server had left after the last grant.
    server_remaining: u64,
    /// Dropped from the table by the sweep: look the key up again.
    retired: bool,
    /// Counts the leases started: a unit refunded goes back only into the lease it came from.
    generation: u64,
    /// With prefetch on, the next lease is taken ahead once the budget is down to this (the
    /// last grant: a whole lease is kept in reserve); 0: not ahead (prefetching failed).
    refill_below: u64,
    /// A hit claimed the next lease ahead ([`LeaseState::claim_refill`]) and it has not arrived.
    refilling: bool,
}

/// A hit paid out of a lease without waiting ([`LeaseTable::spend_now`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spent {
    /// The hit's decision (admitted).
    pub(crate) decision: Decision,
    /// The lease it was paid from, for [`LeaseTable::refund`].
    generation: u64,
    /// This hit brought the lease down to where the next one is taken ahead: the caller takes
    /// it ([`LeaseState::top_up`] when it arrives).
    pub(crate) refill: bool,
}

impl LeaseTable {
    /// The lease of `key`, made empty if there is none.
    pub(crate) fn get(&self, key: &str) -> Arc<KeyLease> {
        let mut entries = self.entries.lock();
        if let Some(lease) = entries.get(key) {
            return Arc::clone(lease);
        }
        let lease = Arc::new(KeyLease::default());
        entries.insert(key.to_owned(), Arc::clone(&lease));
        lease
    }

    /// Pays `cost` out of `key`'s lease without waiting: `None` when the key has no running
    /// lease that covers it (none while a request is taking its next lease); the caller then
    /// takes the async path. Nothing is spent when `None`. With `prefetch`, the hit that finds
    /// less than a whole grant in hand is told to take the next lease ahead.
    pub(crate) fn spend_now(
        &self,
        key: &str,
        cost: u64,
        now: Instant,
        prefetch: bool,
    ) -> Option<Spent> {
        let entries = self.entries.lock();
        let mut state = entries.get(key)?.state.lock();
        if state.retired {
            return None;
        }
        let decision = state.spend(cost, now)?;
        Some(Spent {
            decision,
            generation: state.generation,
            refill: prefetch && state.claim_refill(),
        })
    }

    /// Gives back `cost` spent by [`spend_now`](Self::spend_now) (a batch that could not be paid
    /// whole), if its lease is still running. Otherwise the units are dropped: they stay counted
    /// on the server, which can only admit fewer.
    pub(crate) fn refund(&self, key: &str, cost: u64, spent: Spent, now: Instant) {
        let entries = self.entries.lock();
        let Some(lease) = entries.get(key) else {
            return;
        };
        let mut state = lease.state.lock();
        let running = state.lease_end.is_some_and(|end| now < end);
        if running && !state.retired && state.generation == spent.generation {
            state.budget = state.budget.saturating_add(cost);
        }
    }

    /// How many keys hold a lease entry.
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Takes out of the table every lease that has ended by `now`, retired, with what each has
    /// to hand back: `(key, units, window end on the server's clock)`, units > 0 only. Leases
    /// busy taking a grant are left for the next sweep.
    pub(crate) fn sweep(&self, now: Instant) -> Vec<(String, u64, u64)> {
        let mut returns = Vec::new();
        self.entries.lock().retain(|key, lease| {
            // Held while looking, so that no request starts taking a lease for this key meanwhile
            // (one that starts after sees the lease retired and looks the key up again).
            let Ok(_taking) = lease.taking.try_lock() else {
                return true;
            };
            let mut state = lease.state.lock();
            if state.lease_end.is_some_and(|end| end > now) {
                return true;
            }
            let units = state.hand_back(now);
            state.retired = true;
            if units > 0 {
                returns.push((key.clone(), units, state.window_end_ms));
            }
            false
        });
        returns
    }
}

impl LeaseState {
    /// Whether the sweep dropped this lease from the table (the caller looks the key up again).
    pub(crate) fn is_retired(&self) -> bool {
        self.retired
    }

    /// Pays `cost` out of the lease if it is still running and covers it: the hit's decision.
    pub(crate) fn spend(&mut self, cost: u64, now: Instant) -> Option<Decision> {
        let running = self.lease_end.is_some_and(|end| now < end);
        if !running || self.budget < cost {
            return None;
        }
        self.budget -= cost;
        Some(Decision {
            allowed: true,
            remaining: self.server_remaining.saturating_add(self.budget),
            reset_at: self.reset_at,
        })
    }

    /// Claims the taking of the next lease ahead, one at a time, when less than the last grant
    /// is in hand: whether the caller should take it.
    pub(crate) fn claim_refill(&mut self) -> bool {
        if self.refilling || self.refill_below == 0 || self.budget > self.refill_below {
            return false;
        }
        self.refilling = true;
        true
    }

    /// Whether the next lease claimed ahead is still wanted, checked once the claimer holds the
    /// key's `taking` lock: not when a lease was taken meanwhile by a request that could not
    /// wait (the budget is up again), nor once the lease has ended or been swept. Clears the
    /// claim when not.
    pub(crate) fn still_wants_refill(&mut self, now: Instant) -> bool {
        let running = self.lease_end.is_some_and(|end| now < end);
        let wanted = self.refilling && running && !self.retired && self.budget <= self.refill_below;
        self.refilling = wanted;
        wanted
    }

    /// Adds the lease taken ahead (asked at `now`, `at` on the wall clock) to the one running:
    /// in the same window its units join the budget and the lease runs `duration` longer; from
    /// a new window it replaces the lease, whose units are void with their window. A refused or
    /// failed lease (`None`) stops taking ahead until the next lease starts.
    pub(crate) fn top_up(
        &mut self,
        grant: Option<Grant>,
        now: Instant,
        at: Timestamp,
        duration: Duration,
    ) {
        let Some(grant) = grant.filter(|grant| grant.allowed && grant.units > 0) else {
            self.stop_taking_ahead();
            return;
        };
        self.refilling = false;
        self.reset_at = at.saturating_add(grant.until_reset);
        self.server_remaining = grant.remaining;
        let same_window = self.window_end.is_some_and(|end| now < end)
            && grant.window_end_ms.abs_diff(self.window_end_ms) < 500;
        if !same_window {
            self.budget = 0;
            self.generation = self.generation.wrapping_add(1);
            self.window_end = Some(now + grant.until_reset);
            self.window_end_ms = grant.window_end_ms;
        }
        let window_end = self.window_end.unwrap_or(now + grant.until_reset);
        self.budget = self.budget.saturating_add(grant.units);
        self.lease_end = Some((now + duration).min(window_end));
        self.refill_below = grant.units;
    }

    /// Drops the claim on the next lease and takes none ahead until the next lease starts (a
    /// lease ahead was refused or failed, or cannot be taken here).
    pub(crate) fn stop_taking_ahead(&mut self) {
        self.refilling = false;
        self.refill_below = 0;
    }

    /// Ends the lease: the units to hand back (none once its window has ended, when they are
    /// void) and the window they go back to, on the server's clock.
    pub(crate) fn end(&mut self, now: Instant) -> (u64, u64) {
        (self.hand_back(now), self.window_end_ms)
    }

    fn hand_back(&mut self, now: Instant) -> u64 {
        let units = if self.window_end.is_some_and(|end| now < end) {
            self.budget
        } else {
            0
        };
        self.budget = 0;
        self.lease_end = None;
        units
    }

    /// Starts the lease `grant`, taken at `now` (`at` on the wall clock) by a hit costing `cost`,
    /// lasting at most `duration`: the hit's decision.
    pub(crate) fn start(
        &mut self,
        grant: Grant,
        cost: u64,
        now: Instant,
        at: Timestamp,
        duration: Duration,
    ) -> Decision {
        let reset_at = at.saturating_add(grant.until_reset);
        self.reset_at = reset_at;
        self.server_remaining = grant.remaining;
        self.window_end_ms = grant.window_end_ms;
        if !grant.allowed {
            return Decision {
                allowed: false,
                remaining: 0,
                reset_at,
            };
        }
        let window_end = now + grant.until_reset;
        self.generation = self.generation.wrapping_add(1);
        self.window_end = Some(window_end);
        self.lease_end = Some((now + duration).min(window_end));
        self.budget = grant.units.saturating_sub(cost);
        self.refill_below = grant.units;
        self.refilling = false;
        Decision {
            allowed: true,
            remaining: grant.remaining.saturating_add(self.budget),
            reset_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clocks and lengths most tests use: a wall-clock time for grants, a key's window of a
    /// minute and a lease of a second.
    const AT: Timestamp = Timestamp::from_nanos(0);
    const MINUTE: Duration = Duration::from_secs(60);
    const SECOND: Duration = Duration::from_secs(1);

    fn grant(units: u64, until_reset: Duration) -> Grant {
        Grant {
            allowed: units > 0,
            units,
            remaining: 400,
            until_reset,
            window_end_ms: 1_000_060_000,
        }
    }

    #[test]
    fn a_lease_pays_for_hits_until_it_runs_out_or_ends() {
        let now = Instant::now();
        let at = Timestamp::from_nanos(1_000_000_000_000);
        let mut state = LeaseState::default();
        assert_eq!(state.spend(1, now), None, "no lease yet");
        let second = Duration::from_secs(1);
        let decision = state.start(grant(3, Duration::from_secs(60)), 1, now, at, second);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 402);
        assert_eq!(
            decision.reset_at,
            at.saturating_add(Duration::from_secs(60))
        );
        // Two units left: a hit of 1, then none of 2.
        assert_eq!(state.spend(1, now).map(|d| d.remaining), Some(401));
        assert_eq!(state.spend(2, now), None);
        // The lease ends after its duration: one unit goes back into its window.
        assert_eq!(state.spend(1, now + second), None);
        assert_eq!(state.end(now + second), (1, 1_000_060_000));
        assert_eq!(
            state.end(now + second),
            (0, 1_000_060_000),
            "handed back once"
        );
    }

    #[test]
    fn a_lease_is_void_once_its_window_ends() {
        let now = Instant::now();
        let at = Timestamp::from_nanos(0);
        let mut state = LeaseState::default();
        let window = Duration::from_millis(10);
        state.start(grant(50, window), 1, now, at, Duration::from_secs(1));
        // The lease ends with its window, and its units are not handed back into the next one.
        assert_eq!(state.spend(1, now + window), None);
        assert_eq!(state.end(now + window).0, 0);
    }

    #[test]
    fn a_rejected_grant_leaves_no_lease() {
        let now = Instant::now();
        let mut state = LeaseState::default();
        let decision = state.start(
            grant(0, Duration::from_secs(5)),
            1,
            now,
            Timestamp::from_nanos(0),
            Duration::from_secs(1),
        );
        assert!(!decision.allowed);
        assert_eq!(decision.remaining, 0);
        assert_eq!(state.spend(1, now), None);
    }

    /// Paying at once: only out of a running lease that covers the hit, never while a grant is
    /// being taken; a refund goes back only into the lease it came from.
    #[test]
    fn hits_paid_at_once_and_refunded_into_their_own_lease() {
        let table = LeaseTable::default();
        let now = Instant::now();
        assert!(
            table.spend_now("k", 1, now, false).is_none(),
            "no lease yet"
        );
        let lease = table.get("k");
        let start = |units| {
            lease
                .state
                .lock()
                .start(grant(units, MINUTE), 1, now, AT, SECOND)
        };
        start(4);
        let paid = table.spend_now("k", 1, now, false).expect("covered");
        assert_eq!(paid.decision.remaining, 402);
        assert!(
            table.spend_now("k", 3, now, false).is_none(),
            "two units left"
        );
        table.refund("k", 1, paid, now);
        let all = table
            .spend_now("k", 3, now, false)
            .expect("three after the refund");
        assert_eq!(all.decision.remaining, 400);
        // A grant being taken: the lease was ended first, so nothing is paid out of it.
        table.refund("k", 1, all, now);
        assert_eq!(lease.state.lock().end(now).0, 1);
        assert!(
            table.spend_now("k", 1, now, false).is_none(),
            "a grant in flight"
        );
        // A new lease: a refund from the old one is dropped.
        start(5);
        table.refund("k", 2, paid, now);
        assert!(
            table.spend_now("k", 5, now, false).is_none(),
            "four units, not six"
        );
        assert!(table.spend_now("k", 4, now, false).is_some());
    }

    /// Prefetch: a whole grant is kept in reserve. The first hit of a lease claims the next one,
    /// once; in the same window it joins the budget (the lease runs on), from a new one it
    /// replaces the lease.
    #[test]
    fn the_next_lease_is_taken_ahead_and_joins_the_running_one() {
        let table = LeaseTable::default();
        let now = Instant::now();
        let lease = table.get("k");
        lease
            .state
            .lock()
            .start(grant(10, MINUTE), 1, now, AT, SECOND);
        // 9 in hand, less than the grant of 10: claimed at once, and once only.
        assert!(lease.state.lock().claim_refill());
        let claims: Vec<bool> = (0..7)
            .map(|_| table.spend_now("k", 1, now, true).unwrap().refill)
            .collect();
        assert_eq!(claims, [false; 7]);
        // Two left. The claimer holds `taking` and still wants it; the grant arrives.
        let later = now + Duration::from_millis(900);
        assert!(lease.state.lock().still_wants_refill(later));
        lease
            .state
            .lock()
            .top_up(Some(grant(10, MINUTE)), later, AT, SECOND);
        // Twelve in hand, more than the grant: nothing claimed until two are spent.
        let after = now + Duration::from_millis(1500);
        let claims: Vec<bool> = (0..12)
            .map(|_| table.spend_now("k", 1, after, true).unwrap().refill)
            .collect();
        assert_eq!(
            claims.iter().position(|&claim| claim),
            Some(1),
            "{claims:?}"
        );
        assert!(
            table.spend_now("k", 1, after, true).is_none(),
            "spent, and the lease runs a second from the top-up"
        );

        // A grant from another window replaces the lease: the old units are void.
        lease
            .state
            .lock()
            .start(grant(10, MINUTE), 1, now, AT, SECOND);
        let mut next_window = grant(4, MINUTE);
        next_window.window_end_ms += 60_000;
        lease
            .state
            .lock()
            .top_up(Some(next_window), now, AT, SECOND);
        assert!(table.spend_now("k", 5, now, false).is_none(), "4, not 13");
        assert!(table.spend_now("k", 4, now, false).is_some());
    }

    /// A claim is dropped when a request took a lease meanwhile, and a refused or failed lease
    /// ahead stops taking ahead until the next lease starts.
    #[test]
    fn a_claim_lapses_when_not_needed_and_a_failure_stops_taking_ahead() {
        let now = Instant::now();
        let mut state = LeaseState::default();
        state.start(grant(4, MINUTE), 1, now, AT, SECOND);
        assert!(state.claim_refill(), "3 left of 4");
        assert!(!state.claim_refill(), "claimed once");
        // A request that could not wait took a fresh lease first, and topped up meanwhile
        // by another claim: more than a grant in hand.
        state.start(grant(10, MINUTE), 1, now, AT, SECOND);
        state.top_up(Some(grant(10, MINUTE)), now, AT, SECOND);
        state.refilling = true;
        assert!(!state.still_wants_refill(now), "19 in hand");
        // Below a grant again: claimed, then the lease ahead fails.
        for _ in 0..10 {
            state.spend(1, now);
        }
        assert!(state.claim_refill());
        assert!(state.still_wants_refill(now));
        state.top_up(None, now, AT, SECOND);
        assert!(!state.claim_refill(), "no more taking ahead in this lease");
        // A claim on a lease that has ended lapses.
        state.start(grant(4, MINUTE), 1, now, AT, SECOND);
        assert!(state.claim_refill());
        assert!(!state.still_wants_refill(now + SECOND));
    }

    #[test]
    fn the_sweep_takes_out_ended_leases_with_their_unspent_units() {
        let table = LeaseTable::default();
        let now = Instant::now();
        let at = Timestamp::from_nanos(0);
        let minute = Duration::from_secs(60);
        let second = Duration::from_secs(1);
        for (key, units) in [("a", 10), ("b", 1)] {
            let lease = table.get(key);
            lease
                .state
                .try_lock()
                .unwrap()
                .start(grant(units, minute), 1, now, at, second);
        }
        assert!(table.sweep(now).is_empty(), "both still running");
        let returns = table.sweep(now + second);
        assert_eq!(returns, [("a".to_owned(), 9, 1_000_060_000)]);
        assert_eq!(table.len(), 0);
        // A request still holding a swept lease sees it retired.
        let held = table.get("c");
        table.sweep(now);
        assert!(held.state.try_lock().unwrap().is_retired());
    }
}
