//! Redis Cluster: how a batch whose keys live in several hash slots is split into script calls.
//!
//! A Lua script may only touch keys of one hash slot. The keys of one hit always share a slot
//! (fixed and moving windows use one key; the sliding window's two keys are hash-tagged
//! `{prefix}:{{key}}` and `{prefix}:{{key}}/-1`), but the hits of one request usually do not,
//! and hash-tagging them into one slot would change their names and break compatibility with
//! Python deployments. So a batch is split:
//!
//! * all hits in one slot (always the case for a single limit): **one** script call;
//! * without `stop_at_first_breach`: one call per slot, the hits of each slot in their order,
//!   all sent concurrently (each hit is decided on its own, so the order across slots does not
//!   matter): one round trip of wall time;
//! * with `stop_at_first_breach`: consecutive hits of the same slot form a run; runs are sent one
//!   after the other, in order, and evaluation stops at the first rejected hit, so no hit after
//!   a breach is counted, exactly as on a single server.

use super::scripts::ScriptHit;
use redis::cluster_routing::Slot;

/// The slot of a hit (of its first key; the others share it).
pub(super) fn slot(hit: &ScriptHit) -> Option<Slot> {
    hit.keys.first().map(Slot::for_key)
}

/// Whether every hit of `hits` is in one slot.
pub(super) fn single_slot(hits: &[ScriptHit]) -> bool {
    let first = hits.first().and_then(slot);
    hits.iter().all(|hit| slot(hit) == first)
}

/// The hits grouped by slot, each group in batch order, as indices into `hits`.
pub(super) fn by_slot(hits: &[ScriptHit]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Option<Slot>, Vec<usize>)> = Vec::new();
    for (index, hit) in hits.iter().enumerate() {
        let slot = slot(hit);
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, group)) => group.push(index),
            None => groups.push((slot, vec![index])),
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

/// Consecutive runs of hits in the same slot, as index ranges into `hits`.
pub(super) fn runs(hits: &[ScriptHit]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for index in 1..=hits.len() {
        if index == hits.len() || slot(&hits[index]) != slot(&hits[start]) {
            runs.push(start..index);
            start = index;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(key: &str) -> ScriptHit {
        ScriptHit {
            amount: 1,
            expiry: 1,
            cost: 1,
            keys: vec![key.to_owned()],
        }
    }

    #[test]
    fn groups_and_runs_keep_batch_order() {
        // `{a}x` and `{a}y` share a slot; `b` is elsewhere.
        let hits = [hit("{a}x"), hit("b"), hit("{a}y")];
        assert!(!single_slot(&hits));
        assert_eq!(by_slot(&hits), vec![vec![0, 2], vec![1]]);
        assert_eq!(runs(&hits), vec![0..1, 1..2, 2..3]);
        let same = [hit("{a}x"), hit("{a}y")];
        assert!(single_slot(&same));
        assert_eq!(runs(&same), vec![0..2]);
        assert!(runs(&[]).is_empty());
    }
}
