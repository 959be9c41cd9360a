//! The Lua scripts: one per strategy, each deciding a whole batch of hits in one atomic call.
//!
//! Each script carries out, hit by hit, the writes of the corresponding `limits` script
//! (`incr_expire.lua`, `acquire_moving_window.lua`, `acquire_sliding_window.lua`), so the keys
//! and stored values are those a Python deployment reads and writes. See the `.lua` files for the
//! exact calling convention; [`Call`] builds it.

use crate::strategy::Strategy;
use redis::Script;
use std::sync::LazyLock;

static FIXED_WINDOW: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("fixed_window.lua")));
static MOVING_WINDOW: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("moving_window.lua")));
static SLIDING_WINDOW: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("sliding_window.lua")));

/// The script that decides hits under `strategy`.
pub(super) fn script(strategy: Strategy) -> &'static Script {
    match strategy {
        Strategy::FixedWindow => &FIXED_WINDOW,
        Strategy::MovingWindow => &MOVING_WINDOW,
        Strategy::SlidingWindowCounter => &SLIDING_WINDOW,
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
    /// Its keys: one (fixed, moving) or two (sliding: previous, current).
    pub keys: Vec<String>,
}

/// The arguments of one script call.
#[derive(Debug)]
pub(super) struct Call<'a> {
    /// Which script.
    pub strategy: Strategy,
    /// Now, in seconds since the epoch (the moving window's clock, as Python's `time.time()`).
    pub now: f64,
    /// Stop after the first rejected hit.
    pub stop_at_first_breach: bool,
    /// Only look: write nothing but the sliding window's roll-over.
    pub peek: bool,
    /// The hits, in order.
    pub hits: &'a [ScriptHit],
}

impl Call<'_> {
    /// The `EVALSHA` command for this call.
    pub fn evalsha(&self) -> redis::Cmd {
        let script = script(self.strategy);
        let keys: usize = self.hits.iter().map(|hit| hit.keys.len()).sum();
        // Sized up front: growing the command's buffers argument by argument cost more than
        // writing them (EVALSHA, sha, key count, keys, 3 flags, 3 numbers per hit).
        let key_bytes: usize = self
            .hits
            .iter()
            .flat_map(|hit| &hit.keys)
            .map(String::len)
            .sum();
        let mut cmd = redis::Cmd::with_capacity(
            6 + keys + 3 * self.hits.len(),
            64 + key_bytes + 32 + 3 * 20 * self.hits.len(),
        );
        cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys);
        for hit in self.hits {
            for key in &hit.keys {
                cmd.arg(key);
            }
        }
        // Only the moving window reads the time (its entries are timestamps). `{}` on an f64
        // writes the shortest string that reads back as the same number, as Python's
        // `repr(time.time())` that redis-py sends; it is not free, so the others get "0".
        if self.strategy == Strategy::MovingWindow {
            cmd.arg(format!("{}", self.now));
        } else {
            cmd.arg("0");
        }
        cmd.arg(if self.stop_at_first_breach { "1" } else { "0" })
            .arg(if self.peek { "1" } else { "0" });
        for hit in self.hits {
            cmd.arg(hit.amount).arg(hit.expiry).arg(hit.cost);
        }
        cmd
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
    }
}

/// What a script reports of one decided hit: whether it was admitted, and four numbers whose
/// meaning depends on the strategy (see each `.lua` file).
///
/// The scripts pack each record with `struct.pack('<Bdddd', …)`: one byte, then four
/// little-endian doubles. Binary rather than text because Lua writes a number as text with
/// `sprintf`, which cost the server more than the `INCRBY` it reports (`INFO commandstats`) and
/// keeps only 14 digits; a double is exact for every count a Lua script can hold (2⁵³).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Record {
    /// The hit was admitted (when only looking: it would be).
    pub allowed: bool,
    /// The strategy's four numbers.
    pub fields: [f64; 4],
}

/// The records of one reply: inline for up to four hits, as [`Decisions`](crate::Decisions).
pub(super) type Records = smallvec::SmallVec<[Record; 4]>;

/// The size of one packed [`Record`].
const RECORD_BYTES: usize = 1 + 4 * 8;

/// The records of a script's reply, in the order of the hits; `None` if the reply is not a whole
/// number of records.
pub(super) fn records(reply: &[u8]) -> Option<Records> {
    if reply.len() % RECORD_BYTES != 0 {
        return None;
    }
    let records = reply
        .chunks_exact(RECORD_BYTES)
        .map(|bytes| {
            let number = |index: usize| {
                let start = 1 + 8 * index;
                let mut le_bytes = [0; 8];
                le_bytes.copy_from_slice(&bytes[start..start + 8]);
                f64::from_le_bytes(le_bytes)
            };
            Record {
                allowed: bytes[0] == 1,
                fields: [number(0), number(1), number(2), number(3)],
            }
        })
        .collect();
    Some(records)
}

#[cfg(test)]
mod tests {
    use super::{records, Record, Records};

    /// `struct.pack('<Bdddd', allowed, a, b, c, d)`, as the scripts write it.
    fn packed(allowed: u8, fields: [f64; 4]) -> Vec<u8> {
        let mut bytes = vec![allowed];
        for field in fields {
            bytes.extend_from_slice(&field.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn replies_are_packed_records() {
        assert_eq!(records(b""), Some(Records::new()));
        let mut reply = packed(1, [2.0, 59_000.0, 0.0, 0.0]);
        // The moving window's oldest entry, and a count past what decimal text in Lua keeps.
        reply.extend(packed(0, [3.0, 1_764_258_000.25, 0.0, 0.0]));
        reply.extend(packed(1, [123_456_789_012_345.0, -2.0, 0.0, 0.0]));
        assert_eq!(
            records(&reply),
            Some(Records::from_slice(&[
                Record {
                    allowed: true,
                    fields: [2.0, 59_000.0, 0.0, 0.0]
                },
                Record {
                    allowed: false,
                    fields: [3.0, 1_764_258_000.25, 0.0, 0.0]
                },
                Record {
                    allowed: true,
                    fields: [123_456_789_012_345.0, -2.0, 0.0, 0.0]
                },
            ]))
        );
        // A cut reply is refused, not read short.
        assert_eq!(records(&reply[..40]), None);
    }
}
