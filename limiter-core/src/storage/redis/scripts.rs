//! The Lua scripts: one per strategy, each deciding a whole batch of hits in one atomic call.
//!
//! Each script carries out, hit by hit, the writes of the corresponding `limits` script
//! (`incr_expire.lua`, `acquire_moving_window.lua`, `acquire_sliding_window.lua`), so the keys
//! and stored values are those a Python deployment reads and writes. See the `.lua` files for the
//! exact calling convention; [`Call`] builds it.

use crate::strategy::Strategy;
use redis::Script;
use std::sync::LazyLock;

/// How many values each script returns per decided hit (all of them in one space-separated
/// string, see [`split_reply`]).
pub(super) const FIELDS_PER_HIT: usize = 5;

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

/// The values of a script's reply: one string of space-separated fields, each an integer or, for
/// the moving window's oldest entry, the entry as stored (possibly empty).
pub(super) fn split_reply(reply: &[u8]) -> Vec<redis::Value> {
    if reply.is_empty() {
        return Vec::new();
    }
    let fields = reply.iter().filter(|&&byte| byte == b' ').count() + 1;
    let mut values = Vec::with_capacity(fields);
    for field in reply.split(|&byte| byte == b' ') {
        values.push(match integer(field) {
            Some(number) => redis::Value::Int(number),
            None => redis::Value::BulkString(field.to_vec()),
        });
    }
    values
}

/// `field` as a decimal integer (an optional `-`, then digits), `None` for anything else.
fn integer(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, field),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut number: i64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        number = number * 10 + i64::from(byte - b'0');
    }
    Some(if negative { -number } else { number })
}

#[cfg(test)]
mod tests {
    use super::split_reply;
    use redis::Value;

    #[test]
    fn replies_split_into_integers_and_stored_entries() {
        assert_eq!(split_reply(b""), Vec::new());
        assert_eq!(
            split_reply(b"1 2 59000 0 0"),
            [1, 2, 59000, 0, 0].map(Value::Int)
        );
        // The moving window's oldest entry as stored, and an empty one.
        assert_eq!(
            split_reply(b"1 3 1764258000.25 0 0 0 0  0 0"),
            vec![
                Value::Int(1),
                Value::Int(3),
                Value::BulkString(b"1764258000.25".to_vec()),
                Value::Int(0),
                Value::Int(0),
                Value::Int(0),
                Value::Int(0),
                Value::BulkString(Vec::new()),
                Value::Int(0),
                Value::Int(0),
            ]
        );
        assert_eq!(split_reply(b"-2 -1"), [-2, -1].map(Value::Int));
        // Not integers: kept as they are, for the decoder to refuse.
        assert_eq!(
            split_reply(b"- 1e3 12345678901234567890"),
            vec![
                Value::BulkString(b"-".to_vec()),
                Value::BulkString(b"1e3".to_vec()),
                Value::BulkString(b"12345678901234567890".to_vec()),
            ]
        );
    }
}
