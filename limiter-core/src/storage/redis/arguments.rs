//! A script call's arguments: each distinct key and each distinct limit once, the hits as small
//! indices into them.
//!
//! A coalesced call carries many hits over few keys (every request of one client names the
//! same keys, and every request of a route the same limits). Sent hit by hit, each would bring
//! its ~50-byte key and its amount, expiry and cost, which the server turns into objects and the
//! script into Lua strings: about a microsecond of server time per hit. Sent once per call and
//! referenced by index, a repeated key or limit costs nine bytes of one string.
//!
//! The convention every script reads (see the `.lua` files):
//!
//! * `KEYS`: the call's distinct keys; the keys of one hit (two for the sliding window) are
//!   consecutive.
//! * `ARGV[1]`: the strategy's parameter (now, or GCRA's burst); `ARGV[2]`: `"1"` to only look.
//! * `ARGV[3]`: the hits, [`HIT_BYTES`] each: the position in `KEYS` of the hit's first key
//!   (u32, little-endian, from 1), the number of its limit (u32, little-endian, from 1), and its
//!   mode byte: `0` if it belongs to the same request as the hit before it, else the first hit
//!   of a request, the sum of `1`, `2` if the request stops at its first rejected hit, and `4` if
//!   its admitted hits need no reset time.
//! * `ARGV[4]`: for the fixed window's fast path, per key in `KEYS` order, `'<dI4B'`: the cost
//!   of all its hits, the number of its limit, and 1 if its reset time is wanted when every hit
//!   is admitted (empty for the other strategies, when only looking, or when a total is past
//!   2⁵³, which a double would not hold exactly).
//! * `ARGV[3s + 2]`, `ARGV[3s + 3]`, `ARGV[3s + 4]`: limit `s`'s amount, expiry (whole seconds)
//!   and the hit's cost, as decimal text.

use super::scripts::{Record, Records, Request, ScriptHit, TTL_NOT_READ};
use crate::storage::hit::AdmittedReset;

/// The bytes of one hit in `ARGV[3]`: key position (u32), limit number (u32), mode (u8).
pub(super) const HIT_BYTES: usize = 9;

/// The bytes of one key in `ARGV[4]`: total cost (f64), limit number (u32), read its TTL (u8).
const TOTAL_BYTES: usize = 13;

/// The largest total cost a double holds exactly (2⁵³).
const EXACT_TOTAL: u64 = 1 << 53;

/// What a hit is decided against, apart from its key: a limit's amount and expiry, and the
/// hit's cost.
type Terms = (u64, u64, u64);

/// A call's arguments after the script's sha and the strategy's parameter.
#[derive(Debug)]
pub(super) struct Arguments<'a> {
    /// `KEYS`, each key once.
    pub keys: Vec<&'a str>,
    /// The distinct limits (amount, expiry, cost), in the order of their numbers.
    pub limits: Vec<Terms>,
    /// `ARGV[3]`: the packed hits.
    pub hits: Vec<u8>,
    /// `ARGV[4]`: the packed totals per key, or empty.
    pub totals: Vec<u8>,
}

/// One key's share of the fast path's totals.
#[derive(Debug, Clone, Copy)]
struct Total {
    cost: u64,
    limit: u32,
    read_ttl: bool,
}

impl<'a> Arguments<'a> {
    /// The arguments of `hits`, which belong to `requests` in order (their `hits` add up to
    /// `hits.len()`); with `totals`, those of the fixed window's fast path too (each hit of one
    /// key).
    pub fn new(hits: &'a [ScriptHit], requests: &[Request], totals: bool) -> Self {
        let mut keys: Vec<&'a str> = Vec::new();
        let mut limits: Vec<Terms> = Vec::new();
        let mut packed = Vec::with_capacity(HIT_BYTES * hits.len());
        // A hit's keys are found by its first one (the sliding window's second follows from it).
        let mut key_positions: hashbrown::HashMap<&'a str, u32> =
            hashbrown::HashMap::with_capacity(hits.len());
        let mut per_key: Vec<Total> = Vec::new();
        let mut hits = hits.iter();
        for request in requests {
            let mode = request_mode(request);
            let read_ttl = request.mode.admitted_reset == AdmittedReset::Exact;
            for (index, hit) in hits.by_ref().take(request.hits).enumerate() {
                let first = hit.keys.first().map_or("", String::as_str);
                let key = *key_positions.entry(first).or_insert_with(|| {
                    let position = keys.len() + 1;
                    keys.extend(hit.keys.iter().map(String::as_str));
                    index_u32(position)
                });
                let terms = (hit.amount, hit.expiry, hit.cost);
                // Few distinct limits per call (a route's limits, the same for every request):
                // a scan beats hashing.
                let limit = match limits.iter().position(|known| *known == terms) {
                    Some(found) => found + 1,
                    None => {
                        limits.push(terms);
                        limits.len()
                    }
                };
                packed.extend_from_slice(&key.to_le_bytes());
                packed.extend_from_slice(&index_u32(limit).to_le_bytes());
                packed.push(if index == 0 { mode } else { 0 });
                if totals {
                    // One entry per position in `KEYS` (one key per hit for the fixed window).
                    let slot = (key as usize).saturating_sub(1);
                    if slot >= per_key.len() {
                        let fresh = Total {
                            cost: 0,
                            limit: index_u32(limit),
                            read_ttl: false,
                        };
                        per_key.resize(slot + 1, fresh);
                    }
                    if let Some(total) = per_key.get_mut(slot) {
                        total.cost = total.cost.saturating_add(hit.cost);
                        total.read_ttl |= read_ttl;
                    }
                }
            }
        }
        let totals = if totals && per_key.iter().all(|total| total.cost <= EXACT_TOTAL) {
            let mut bytes = Vec::with_capacity(TOTAL_BYTES * per_key.len());
            for total in &per_key {
                // Exact: at most 2⁵³.
                bytes.extend_from_slice(&(total.cost as f64).to_le_bytes());
                bytes.extend_from_slice(&total.limit.to_le_bytes());
                bytes.push(u8::from(total.read_ttl));
            }
            bytes
        } else {
            Vec::new()
        };
        Arguments {
            keys,
            limits,
            hits: packed,
            totals,
        }
    }

    /// The records of the fixed window's fast path (every hit admitted), dealt to `requests`:
    /// `reply` holds each key's count before the call and its `PTTL` (`'<dd'`, in `KEYS` order);
    /// each hit's count is its key's count plus the costs of the key's hits up to it. `None` if
    /// the reply does not fit the call.
    pub fn admitted(
        &self,
        reply: &[u8],
        hits: &[ScriptHit],
        requests: &[Request],
    ) -> Option<Vec<Records>> {
        if reply.len() != 16 * self.keys.len() {
            return None;
        }
        let number = |at: usize| {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(reply.get(at..at + 8)?);
            Some(f64::from_le_bytes(bytes))
        };
        // Per key: its count so far, and its PTTL.
        let mut keys: Vec<(f64, f64)> = (0..self.keys.len())
            .map(|key| Some((number(16 * key)?, number(16 * key + 8)?)))
            .collect::<Option<_>>()?;
        let mut hits = hits.iter().zip(self.hits.chunks_exact(HIT_BYTES));
        let mut dealt = Vec::with_capacity(requests.len());
        for request in requests {
            let lazy = request.mode.admitted_reset == AdmittedReset::UpperBound;
            let mut records = Records::with_capacity(request.hits);
            for (hit, packed) in hits.by_ref().take(request.hits) {
                let position = u32::from_le_bytes(packed.get(..4)?.try_into().ok()?);
                let (count, ttl) = keys.get_mut((position as usize).checked_sub(1)?)?;
                // Exact: the key's total is at most 2⁵³.
                *count += hit.cost as f64;
                records.push(Record {
                    allowed: true,
                    fields: [*count, if lazy { TTL_NOT_READ } else { *ttl }, 0.0, 0.0],
                });
            }
            if records.len() != request.hits {
                return None;
            }
            dealt.push(records);
        }
        Some(dealt)
    }
}

/// A table position as the scripts read it. A call cannot carry 2³² keys (the server refuses a
/// command of more than 512 MB long before), so this never saturates in practice.
fn index_u32(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
}

/// The mode byte of a request's first hit.
fn request_mode(request: &Request) -> u8 {
    let stops = if request.mode.stop_at_first_breach {
        2
    } else {
        0
    };
    let lazy = match request.mode.admitted_reset {
        AdmittedReset::Exact => 0,
        AdmittedReset::UpperBound => 4,
    };
    1 + stops + lazy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::redis::scripts::Mode;

    fn hit(keys: &[&str], amount: u64, cost: u64) -> ScriptHit {
        ScriptHit {
            amount,
            expiry: 60,
            cost,
            keys: keys.iter().map(|key| (*key).to_owned()).collect(),
        }
    }

    fn request(hits: usize, stop_at_first_breach: bool, admitted_reset: AdmittedReset) -> Request {
        Request {
            hits,
            mode: Mode {
                stop_at_first_breach,
                admitted_reset,
            },
        }
    }

    /// The packed hits as (key position, limit number, mode).
    fn unpacked(hits: &[u8]) -> Vec<(u32, u32, u8)> {
        hits.chunks_exact(HIT_BYTES)
            .map(|hit| {
                let number = |at: usize| u32::from_le_bytes(hit[at..at + 4].try_into().unwrap());
                (number(0), number(4), hit[8])
            })
            .collect()
    }

    #[test]
    fn keys_and_limits_are_sent_once() {
        // Two requests of one client against two limits, and one of another client.
        let hits = [
            hit(&["a/10"], 10, 1),
            hit(&["a/20"], 20, 1),
            hit(&["a/10"], 10, 1),
            hit(&["a/20"], 20, 1),
            hit(&["b/10"], 10, 3),
        ];
        let requests = [
            request(2, true, AdmittedReset::UpperBound),
            request(2, false, AdmittedReset::Exact),
            request(1, true, AdmittedReset::Exact),
        ];
        let arguments = Arguments::new(&hits, &requests, false);
        assert_eq!(arguments.keys, ["a/10", "a/20", "b/10"]);
        assert_eq!(arguments.limits, [(10, 60, 1), (20, 60, 1), (10, 60, 3)]);
        assert_eq!(
            unpacked(&arguments.hits),
            [(1, 1, 7), (2, 2, 0), (1, 1, 1), (2, 2, 0), (3, 3, 3)]
        );
    }

    #[test]
    fn a_hit_of_two_keys_points_at_the_first() {
        // The sliding window's previous and current counters.
        let hits = [
            hit(&["{a}/-1", "{a}"], 5, 1),
            hit(&["{b}/-1", "{b}"], 5, 1),
            hit(&["{a}/-1", "{a}"], 5, 1),
        ];
        let arguments = Arguments::new(&hits, &[request(3, false, AdmittedReset::Exact)], false);
        assert_eq!(arguments.keys, ["{a}/-1", "{a}", "{b}/-1", "{b}"]);
        assert_eq!(arguments.limits, [(5, 60, 1)]);
        assert_eq!(unpacked(&arguments.hits), [(1, 1, 1), (3, 1, 0), (1, 1, 0)]);
    }

    #[test]
    fn totals_per_key_and_the_records_of_every_hit_admitted() {
        // One client's two requests over two limits, one with costs; a lazy and an exact one.
        let hits = [
            hit(&["a/10"], 10, 1),
            hit(&["a/20"], 20, 2),
            hit(&["a/10"], 10, 1),
            hit(&["a/20"], 20, 3),
        ];
        let requests = [
            request(2, true, AdmittedReset::UpperBound),
            request(2, true, AdmittedReset::Exact),
        ];
        let arguments = Arguments::new(&hits, &requests, true);
        let totals: Vec<(f64, u32, u8)> = arguments
            .totals
            .chunks_exact(TOTAL_BYTES)
            .map(|key| {
                (
                    f64::from_le_bytes(key[..8].try_into().unwrap()),
                    u32::from_le_bytes(key[8..12].try_into().unwrap()),
                    key[12],
                )
            })
            .collect();
        assert_eq!(totals, [(2.0, 1, 1), (5.0, 2, 1)]);
        // Counts before the call 4 and 0; PTTLs 9000 and 8000.
        let mut reply = Vec::new();
        for number in [4.0_f64, 9000.0, 0.0, 8000.0] {
            reply.extend_from_slice(&number.to_le_bytes());
        }
        let record = |count, ttl| Record {
            allowed: true,
            fields: [count, ttl, 0.0, 0.0],
        };
        assert_eq!(
            arguments.admitted(&reply, &hits, &requests),
            Some(vec![
                Records::from_slice(&[record(5.0, TTL_NOT_READ), record(2.0, TTL_NOT_READ)]),
                Records::from_slice(&[record(6.0, 9000.0), record(5.0, 8000.0)]),
            ])
        );
        // A reply of another length is refused.
        assert_eq!(arguments.admitted(&reply[..16], &hits, &requests), None);
        // No totals when only looking or past what a double holds exactly.
        assert!(Arguments::new(&hits, &requests, false).totals.is_empty());
        let huge = [hit(&["a"], 10, 1 << 53), hit(&["a"], 10, 1)];
        let huge = Arguments::new(&huge, &[request(2, false, AdmittedReset::Exact)], true);
        assert!(huge.totals.is_empty());
    }
}
