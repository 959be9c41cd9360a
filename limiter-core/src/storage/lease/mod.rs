//! Lease mode: an instance takes a share of a hot key's budget from the server in one call and
//! spends it in process, so that most requests need no round trip.
//!
//! Opt-in, per storage ([`RedisStorageBuilder::lease`](crate::storage::RedisStorageBuilder::lease)),
//! for fixed-window limits only (the other strategies, and `test` / `window_stats`, stay exact).
//! The design is that of Google's Doorman and of Envoy's local-plus-global limits: the server
//! keeps the one count, instances hold slices of it.
//!
//! # How a lease works
//!
//! * **Taking**: when a hit finds no lease for its key, or one that cannot cover its cost, the
//!   instance asks the server, in one atomic script call, for `remaining / share` units (at least
//!   the hit's cost, at most [`LeaseConfig::max_units`], never more than what remains). The
//!   server adds the whole grant to the key's counter at once, so what is leased counts as used
//!   for every other instance (and for Python's `limits` on the same keys).
//! * **Spending**: the hits that follow are admitted in process while the lease covers them, with
//!   no round trip. Concurrent requests for one key wait for one call rather than each making
//!   its own, so an instance takes at most one lease per key at a time.
//! * **Taking ahead** ([`LeaseConfig::prefetch`], on by default): a whole grant is kept in
//!   reserve. As soon as less than the last grant is in hand, a hit starts taking the next lease
//!   in the background, while the running one still pays. In the same window its units join the lease in hand, which runs
//!   [`LeaseConfig::duration`] longer; a grant from a new window replaces it. A hot key's
//!   requests thus never wait for a grant's round trip: at 80,000 requests a second a lease of
//!   100 units lasts about a millisecond, and without taking ahead every request of the key
//!   waited for the next grant once a millisecond.
//! * **Handing back**: a lease ends after [`LeaseConfig::duration`] or when its window ends. The
//!   unspent part is subtracted from the counter again, in the same call that takes the next
//!   lease, or by a sweep that runs every `duration` for the keys that went quiet, but only if
//!   the window it came from is still the current one (checked on the server's clock). A lease
//!   whose window has ended is simply void.
//!
//! # The admission error, bounded
//!
//! Every admitted hit was covered by a grant, and grants never exceed what the server had left,
//! so **lease mode never admits more than the limit**. It can reject a hit that exact mode would
//! admit: while other instances hold unspent leases, the server sees their units as used. An
//! instance holds at most one lease's units per key, `max_units`, or with taking ahead at most
//! less than a lease plus the next one, `2 × max_units`. With `N` instances at most
//! `N ×` that many units are held at any moment, so at most that many hits of a window are
//! wrongly rejected; they come back as each lease ends (within `duration` of the key's last
//! grant). `tests/tests/lease.rs` measures it with two processes over HTTP, with and without
//! taking ahead.
//!
//! # What else changes
//!
//! * The server's counter holds what was leased, not what was hit: rejected hits are not
//!   counted there (exact mode counts them, as `limits`), and admitted hits show up in batches.
//! * An admitted hit's `remaining` is what the server had left at the last grant plus this
//!   instance's unspent lease: an estimate, exact only with one instance.
//! * A process that stops without its sweep running leaves its unspent leases counted until
//!   their window ends (never more than `max_units` per key).
//! * With the over-limit cache also on, a key rejected once is answered as rejected until its
//!   window ends, even if other instances hand units back meanwhile: more hits wrongly rejected
//!   than the bound above, never more admitted.
//! * Only [`RedisStorageBuilder::lease`](crate::storage::RedisStorageBuilder::lease) turns it
//!   on (no URI parameter or environment variable): it changes what the counters mean.
//! * Small limits gain nothing: with `remaining / share` below 2 every hit is one call, as in
//!   exact mode.

mod table;

pub(crate) use table::{Grant, LeaseTable, Spent};

use std::time::Duration;

/// How much a lease takes and how long it lasts; see [the lease module](self).
///
/// ```
/// use limiter_core::storage::LeaseConfig;
/// use std::time::Duration;
///
/// let lease = LeaseConfig::default()
///     .share(20)
///     .max_units(500)
///     .duration(Duration::from_millis(200));
/// assert_eq!(lease.max_units_per_lease(), 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    share: u32,
    max_units: u64,
    duration: Duration,
    prefetch: bool,
}

/// A tenth of what remains per lease.
pub const DEFAULT_LEASE_SHARE: u32 = 10;
/// At most 100 units per lease: with `N` instances, at most `100 × N` hits of a window wrongly
/// rejected.
pub const DEFAULT_LEASE_MAX_UNITS: u64 = 100;
/// A lease ends after 1 second, and its unspent part goes back to the server.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(1);

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            share: DEFAULT_LEASE_SHARE,
            max_units: DEFAULT_LEASE_MAX_UNITS,
            duration: DEFAULT_LEASE_DURATION,
            prefetch: true,
        }
    }
}

impl LeaseConfig {
    /// A lease takes `1 / share` of what the key has left (default [`DEFAULT_LEASE_SHARE`]);
    /// `0` is read as `1` (the whole remainder, up to [`max_units`](Self::max_units)).
    pub fn share(mut self, share: u32) -> Self {
        self.share = share.max(1);
        self
    }

    /// A lease takes at most `units` (default [`DEFAULT_LEASE_MAX_UNITS`]), the bound of the
    /// admission error per instance; a hit costing more still gets its cost. `0` is read as `1`.
    pub fn max_units(mut self, units: u64) -> Self {
        self.max_units = units.max(1);
        self
    }

    /// A lease ends after `duration` (default [`DEFAULT_LEASE_DURATION`]) and its unspent part
    /// is handed back: how long other instances may see a slice of the budget held here.
    /// At least 1 ms.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration.max(Duration::from_millis(1));
        self
    }

    /// Whether the next lease is taken ahead, in the background, as soon as less than a whole
    /// grant is in hand (default `true`): a hot key's requests then do not wait for a grant's
    /// round trip while a lease lasts longer than one, at the price of holding up to twice
    /// [`max_units`](Self::max_units) (see [the bound](self)).
    pub fn prefetch(mut self, prefetch: bool) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// Whether the next lease is taken ahead; see [`prefetch`](Self::prefetch).
    pub fn prefetches(&self) -> bool {
        self.prefetch
    }

    /// What one lease takes of what remains: `1 / share_of_remaining()`.
    pub fn share_of_remaining(&self) -> u32 {
        self.share
    }

    /// The most one lease takes.
    pub fn max_units_per_lease(&self) -> u64 {
        self.max_units
    }

    /// How long a lease lasts.
    pub fn lease_duration(&self) -> Duration {
        self.duration
    }
}
