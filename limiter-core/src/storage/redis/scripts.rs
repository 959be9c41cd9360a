//! The Lua scripts: one per strategy, each deciding a whole batch of hits in one atomic call.
//!
//! Each script carries out, hit by hit, the writes of the corresponding `limits` script
//! (`incr_expire.lua`, `acquire_moving_window.lua`, `acquire_sliding_window.lua`), so the keys
//! and stored values are those a Python deployment reads and writes. See the `.lua` files for the
//! exact calling convention; [`Call`] builds it.

use crate::strategy::Strategy;
use redis::Script;
use std::sync::LazyLock;

/// How many values each script returns per decided hit.
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
        let mut cmd = redis::cmd("EVALSHA");
        let keys: usize = self.hits.iter().map(|hit| hit.keys.len()).sum();
        cmd.arg(script.get_hash()).arg(keys);
        for hit in self.hits {
            for key in &hit.keys {
                cmd.arg(key);
            }
        }
        // `{}` on an f64 writes the shortest string that reads back as the same number, as
        // Python's `repr(time.time())` that redis-py sends.
        cmd.arg(format!("{}", self.now))
            .arg(if self.stop_at_first_breach { "1" } else { "0" })
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
