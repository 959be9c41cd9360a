//! Taking back hits a cluster call counted after their request's first breach (`refund.lua`).
//!
//! On a cluster the slots of a request are decided concurrently, so a slot may count a hit that,
//! on a single server, would never have been made: one after the request's first rejected hit in
//! another slot. The hit's decision is dropped and its write undone by this script, one call per
//! slot; see `cluster_calls.rs` for what that costs in accuracy.

use super::scripts::ScriptHit;
use crate::strategy::Strategy;
use redis::{Cmd, Script};
use std::sync::LazyLock;

static REFUND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("refund.lua")));

/// The script's name for a strategy.
fn kind(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::FixedWindow => "f",
        Strategy::MovingWindow => "m",
        Strategy::SlidingWindowCounter => "s",
        Strategy::Gcra { .. } => "g",
    }
}

/// The `EVALSHA` that takes back `hits` (all in one slot), counted under `strategy` by a call
/// made at `now` (the moving window's entries are that time).
pub(super) fn evalsha(strategy: Strategy, now: f64, hits: &[&ScriptHit]) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(REFUND.get_hash()).arg(hits.len());
    for hit in hits {
        // The key the hit wrote: its only one, or the sliding window's current counter.
        cmd.arg(hit.keys.last().map_or("", String::as_str));
    }
    cmd.arg(kind(strategy));
    match strategy {
        // As scripts.rs sends it, so that the script reads the same number.
        Strategy::MovingWindow => cmd.arg(format!("{now}")),
        _ => cmd.arg("0"),
    };
    for hit in hits {
        cmd.arg(hit.cost).arg(hit.amount).arg(hit.expiry);
    }
    cmd
}

/// The `SCRIPT LOAD` that (re)loads the script after a `NOSCRIPT` reply.
pub(super) fn load() -> Cmd {
    let mut cmd = redis::cmd("SCRIPT");
    cmd.arg("LOAD").arg(include_str!("refund.lua"));
    cmd
}
