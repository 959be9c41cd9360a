//! The Lua scripts: one per strategy, each deciding a whole batch of hits in one atomic call.
//!
//! Each script carries out, hit by hit, the writes of the corresponding `limits` script
//! (`incr_expire.lua`, `acquire_moving_window.lua`, `acquire_sliding_window.lua`), so the keys
//! and stored values are those a Python deployment reads and writes. See the `.lua` files for the
//! calling convention each of them reads (each distinct key and limit once, the hits as indices
//! into them: see `arguments.rs`); [`Call`] builds it.

use super::arguments::Arguments;
use crate::storage::hit::AdmittedReset;
use crate::strategy::Strategy;
use redis::Script;
use std::sync::LazyLock;

static FIXED_WINDOW: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("fixed_window.lua")));
static MOVING_WINDOW: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("moving_window.lua")));
static SLIDING_WINDOW: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("sliding_window.lua")));
static GCRA: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));

/// The script that decides hits under `strategy`.
pub(super) fn script(strategy: Strategy) -> &'static Script {
    match strategy {
        Strategy::FixedWindow => &FIXED_WINDOW,
        Strategy::MovingWindow => &MOVING_WINDOW,
        Strategy::SlidingWindowCounter => &SLIDING_WINDOW,
        Strategy::Gcra { .. } => &GCRA,
    }
}

/// One hit as the scripts take it.
#[derive(Debug, Clone)]
pub(super) struct ScriptHit {
    /// The limit's amount.
    pub amount: u64,
    /// The limit's window, in whole seconds.
    pub expiry: u64,
    /// What the hit deducts.
    pub cost: u64,
    /// Its keys: one (fixed, moving, GCRA) or two (sliding: previous, current).
    pub keys: Vec<String>,
}

/// How a request's hits are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mode {
    /// Whether its hits after the first rejected one are skipped (they get no record).
    pub stop_at_first_breach: bool,
    /// Whether its admitted hits need their exact reset time.
    pub admitted_reset: AdmittedReset,
}

/// One request's share of a script call: its hits are consecutive in the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Request {
    /// How many hits it has.
    pub hits: usize,
    /// How they are decided.
    pub mode: Mode,
}

/// The fixed window's "time to live" of a counter whose `PTTL` was not read.
pub(super) const TTL_NOT_READ: f64 = -3.0;

/// The arguments of one script call.
#[derive(Debug)]
pub(super) struct Call<'a> {
    /// Which script.
    pub strategy: Strategy,
    /// Now, in seconds since the epoch (the moving window's clock, as Python's `time.time()`).
    pub now: f64,
    /// Only look: write nothing but the sliding window's roll-over.
    pub peek: bool,
    /// The hits, in order: those of the first request, then those of the next, …
    pub hits: &'a [ScriptHit],
    /// The requests the hits belong to; their `hits` add up to `hits.len()`.
    pub requests: &'a [Request],
}

impl Call<'_> {
    /// The `EVALSHA` command for this call: each distinct key and limit once, the hits as
    /// indices into them (see [`Arguments`]).
    pub fn evalsha(&self, arguments: &Arguments<'_>) -> redis::Cmd {
        let script = script(self.strategy);
        let key_bytes: usize = arguments.keys.iter().map(|key| key.len()).sum();
        // Sized up front: growing the command's buffers argument by argument cost more than
        // writing them (EVALSHA, sha, key count, keys, parameter, look flag, hits, 3 per limit).
        let mut cmd = redis::Cmd::with_capacity(
            6 + arguments.keys.len() + 3 * arguments.limits.len(),
            96 + key_bytes
                + arguments.hits.len()
                + arguments.totals.len()
                + 3 * 20 * arguments.limits.len(),
        );
        cmd.arg("EVALSHA")
            .arg(script.get_hash())
            .arg(arguments.keys.len());
        for key in &arguments.keys {
            cmd.arg(*key);
        }
        // Only the moving window reads the time (its entries are timestamps). `{}` on an f64
        // writes the shortest string that reads back as the same number, as Python's
        // `repr(time.time())` that redis-py sends; it is not free, so the others get "0".
        // GCRA reads the server's clock and takes its burst there instead.
        match self.strategy {
            Strategy::MovingWindow => cmd.arg(format!("{}", self.now)),
            Strategy::Gcra { burst } => cmd.arg(burst.map_or(0, std::num::NonZeroU64::get)),
            _ => cmd.arg("0"),
        };
        cmd.arg(if self.peek { "1" } else { "0" });
        cmd.arg(arguments.hits.as_slice());
        cmd.arg(arguments.totals.as_slice());
        for (amount, expiry, cost) in &arguments.limits {
            cmd.arg(*amount).arg(*expiry).arg(*cost);
        }
        cmd
    }

    /// This call's arguments: each distinct key and limit once, and for the fixed window's fast
    /// path (not when only looking) each key's total cost.
    pub fn arguments(&self) -> Arguments<'_> {
        let totals = self.strategy == Strategy::FixedWindow && !self.peek;
        Arguments::new(self.hits, self.requests, totals)
    }

    /// The records of `reply`, the answer to this call sent with `arguments`, dealt to its
    /// requests; `None` if the reply does not fit the call.
    pub fn records(&self, reply: &[u8], arguments: &Arguments<'_>) -> Option<Vec<Records>> {
        let reply = match self.strategy {
            // A byte first: 1 for the fast path's counts per key, 0 for records per hit.
            Strategy::FixedWindow => match reply.split_first()? {
                (1, per_key) => return arguments.admitted(per_key, self.hits, self.requests),
                (0, per_hit) => per_hit,
                _ => return None,
            },
            _ => reply,
        };
        records(reply, self.strategy).and_then(|records| by_request(&records, self.requests))
    }

    /// The `SCRIPT LOAD` command that (re)loads this call's script after a `NOSCRIPT` error.
    pub fn load(&self) -> redis::Cmd {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(script_source(self.strategy));
        cmd
    }
}

fn script_source(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::FixedWindow => include_str!("fixed_window.lua"),
        Strategy::MovingWindow => include_str!("moving_window.lua"),
        Strategy::SlidingWindowCounter => include_str!("sliding_window.lua"),
        Strategy::Gcra { .. } => include_str!("gcra.lua"),
    }
}

/// What a script reports of one decided hit: whether it was admitted, and up to four numbers
/// whose meaning depends on the strategy (see each `.lua` file; the fixed window has two, the
/// others are 0).
///
/// The scripts pack each record with `struct.pack`: one byte, then little-endian doubles
/// (`'<Bdd'` for the fixed window, `'<Bdddd'` for the others). Binary rather than text because
/// Lua writes a number as text with `sprintf`, which cost the server more than the `INCRBY` it
/// reports (`INFO commandstats`) and keeps only 14 digits; a double is exact for every count a
/// Lua script can hold (2⁵³).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Record {
    /// The hit was admitted (when only looking: it would be).
    pub allowed: bool,
    /// The strategy's numbers.
    pub fields: [f64; 4],
}

/// The records of one reply: inline for up to four hits, as [`Decisions`](crate::Decisions).
pub(super) type Records = smallvec::SmallVec<[Record; 4]>;

/// How many numbers follow the admission byte in a record of `strategy`'s script.
fn numbers_per_record(strategy: Strategy) -> usize {
    match strategy {
        Strategy::FixedWindow | Strategy::Gcra { .. } => 2,
        Strategy::MovingWindow | Strategy::SlidingWindowCounter => 4,
    }
}

/// The records of a reply of `strategy`'s script, in the order of the hits; `None` if the reply
/// is not a whole number of records.
pub(super) fn records(reply: &[u8], strategy: Strategy) -> Option<Records> {
    let numbers = numbers_per_record(strategy);
    let record_bytes = 1 + 8 * numbers;
    if !reply.len().is_multiple_of(record_bytes) {
        return None;
    }
    let records = reply
        .chunks_exact(record_bytes)
        .map(|bytes| {
            let mut fields = [0.0; 4];
            for (index, field) in fields.iter_mut().take(numbers).enumerate() {
                let start = 1 + 8 * index;
                let mut le_bytes = [0; 8];
                le_bytes.copy_from_slice(&bytes[start..start + 8]);
                *field = f64::from_le_bytes(le_bytes);
            }
            Record {
                allowed: bytes[0] == 1,
                fields,
            }
        })
        .collect();
    Some(records)
}

/// Deals a call's records out to its requests, in order: each request gets one record per hit,
/// or fewer when it stops at a rejected hit. `None` if the records do not fit the requests.
pub(super) fn by_request(records: &[Record], requests: &[Request]) -> Option<Vec<Records>> {
    let mut rest = records;
    let mut dealt = Vec::with_capacity(requests.len());
    for request in requests {
        let mut taken = 0;
        while taken < request.hits {
            let record = rest.get(taken)?;
            taken += 1;
            if request.mode.stop_at_first_breach && !record.allowed {
                break;
            }
        }
        let (own, next) = rest.split_at(taken);
        dealt.push(Records::from_slice(own));
        rest = next;
    }
    rest.is_empty().then_some(dealt)
}

#[cfg(test)]
mod tests {
    use super::{records, Record, Records};
    use crate::strategy::Strategy;

    /// `struct.pack('<B' .. 'd' × n, allowed, …)`, as the scripts write it.
    fn packed(allowed: u8, fields: &[f64]) -> Vec<u8> {
        let mut bytes = vec![allowed];
        for field in fields {
            bytes.extend_from_slice(&field.to_le_bytes());
        }
        bytes
    }

    fn record(allowed: bool, fields: [f64; 4]) -> Record {
        Record { allowed, fields }
    }

    #[test]
    fn replies_are_packed_records() {
        let moving = Strategy::MovingWindow;
        assert_eq!(records(b"", moving), Some(Records::new()));
        let mut reply = packed(1, &[2.0, 59_000.0, 0.0, 0.0]);
        // The moving window's oldest entry, and a count past what decimal text in Lua keeps.
        reply.extend(packed(0, &[3.0, 1_764_258_000.25, 0.0, 0.0]));
        reply.extend(packed(1, &[123_456_789_012_345.0, -2.0, 7.0, 8.0]));
        assert_eq!(
            records(&reply, moving),
            Some(Records::from_slice(&[
                record(true, [2.0, 59_000.0, 0.0, 0.0]),
                record(false, [3.0, 1_764_258_000.25, 0.0, 0.0]),
                record(true, [123_456_789_012_345.0, -2.0, 7.0, 8.0]),
            ]))
        );
        // A cut reply is refused, not read short.
        assert_eq!(records(&reply[..40], moving), None);

        // The fixed window's records carry two numbers.
        let mut fixed = packed(1, &[2.0, 59_000.0]);
        fixed.extend(packed(0, &[3.0, -3.0]));
        assert_eq!(
            records(&fixed, Strategy::FixedWindow),
            Some(Records::from_slice(&[
                record(true, [2.0, 59_000.0, 0.0, 0.0]),
                record(false, [3.0, -3.0, 0.0, 0.0]),
            ]))
        );
        assert_eq!(records(&fixed, moving), None);
    }

    #[test]
    fn records_are_dealt_to_their_requests() {
        use super::{by_request, AdmittedReset, Mode, Request};
        let allowed = record(true, [1.0, 0.0, 0.0, 0.0]);
        let rejected = record(false, [1.0, 0.0, 0.0, 0.0]);
        let request = |hits, stop_at_first_breach| Request {
            hits,
            mode: Mode {
                stop_at_first_breach,
                admitted_reset: AdmittedReset::Exact,
            },
        };
        // A request that stops at its first rejected hit, one that decides all, one of one hit.
        let requests = [request(3, true), request(2, false), request(1, true)];
        let records = [rejected, rejected, allowed, allowed];
        assert_eq!(
            by_request(&records, &requests),
            Some(vec![
                Records::from_slice(&[rejected]),
                Records::from_slice(&[rejected, allowed]),
                Records::from_slice(&[allowed]),
            ])
        );
        // Too few records, or too many, is a broken reply.
        assert_eq!(by_request(&records[..3], &requests), None);
        let mut extra = records.to_vec();
        extra.push(allowed);
        assert_eq!(by_request(&extra, &requests), None);
        // A request that decides all hits needs a record for each.
        assert_eq!(by_request(&[rejected], &[request(2, false)]), None);
    }
}
