//! Redis Cluster: how a call's hits, which may live in several hash slots, are split into one
//! script call per slot, and how the slots' records are put back together.
//!
//! A Lua script may only touch keys of one hash slot. The keys of one hit always share a slot
//! (fixed and moving windows use one key; the sliding window's two keys are hash-tagged
//! `{prefix}:{{key}}` and `{prefix}:{{key}}/-1`), but the hits of one request usually do not,
//! and hash-tagging them into one slot would change their names and break compatibility with
//! Python deployments. So a call (one request's hits, or the coalesced hits of many requests) is
//! [planned](plan) as one [`SlotCall`] per slot: each request's hits of that slot, in their
//! order, as one request of that call with the request's own mode. The slots' calls go out
//! concurrently (`cluster_calls.rs`), and [`merge`] deals their records back to the requests.
//!
//! With `stop_at_first_breach` each slot's call stops at the request's first rejected hit *in
//! that slot*; [`merge`] then finds the request's first rejected hit over all slots, keeps the
//! records up to it, and names the hits after it that a slot counted anyway: those are
//! [refunded](super::refund).

use super::scripts::{Record, Records, Request, ScriptHit};
use crate::strategy::Strategy;
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

/// Where a hit of a [`SlotCall`] comes from: its request, and its place among that request's
/// hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Origin {
    /// The request's index in the planned call.
    pub request: usize,
    /// The hit's index within its request.
    pub hit: usize,
}

/// One slot's script call: the hits of that slot, grouped by request in request order.
#[derive(Debug)]
pub(super) struct SlotCall {
    /// The slot.
    pub slot: Option<Slot>,
    /// The hits, each request's consecutive.
    pub hits: Vec<ScriptHit>,
    /// The requests of this call, with the modes of the requests they come from.
    pub requests: Vec<Request>,
    /// Where each of `hits` comes from.
    pub origins: Vec<Origin>,
}

/// Splits a call's `hits`, which belong to `requests` in order, into one call per slot. Slots
/// come in the order of their first hit.
pub(super) fn plan(hits: &[ScriptHit], requests: &[Request]) -> Vec<SlotCall> {
    let mut calls: Vec<SlotCall> = Vec::new();
    let mut rest = hits;
    for (request_index, request) in requests.iter().enumerate() {
        let (own, next) = rest.split_at(request.hits.min(rest.len()));
        rest = next;
        for (hit_index, hit) in own.iter().enumerate() {
            let slot = slot(hit);
            let position = match calls.iter().position(|call| call.slot == slot) {
                Some(position) => position,
                None => {
                    calls.push(SlotCall {
                        slot,
                        hits: Vec::new(),
                        requests: Vec::new(),
                        origins: Vec::new(),
                    });
                    calls.len() - 1
                }
            };
            let call = &mut calls[position];
            let continues = call
                .origins
                .last()
                .is_some_and(|origin| origin.request == request_index);
            match call.requests.last_mut() {
                Some(last) if continues => last.hits += 1,
                _ => call.requests.push(Request {
                    hits: 1,
                    mode: request.mode,
                }),
            }
            call.hits.push(hit.clone());
            call.origins.push(Origin {
                request: request_index,
                hit: hit_index,
            });
        }
    }
    calls
}

/// Whether a hit that a script decided as `record` wrote something: the fixed window counts
/// rejected hits too (as `limits`), the others only admitted ones.
fn counted(strategy: Strategy, record: &Record) -> bool {
    matches!(strategy, Strategy::FixedWindow) || record.allowed
}

/// The records of every request of a planned call, and the hits to take back.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Merged {
    /// Per request, one record per decided hit: all of its hits, or those up to its first
    /// rejected one when it stops there.
    pub records: Vec<Records>,
    /// The hits a slot counted after their request's first rejected hit in another slot.
    pub refunds: Vec<Origin>,
}

/// Puts the slots' records (`replies[c]`: per request of `calls[c]`, its records) back in each
/// request's hit order. `None` if a reply does not fit its call (a request's hit without a
/// record before its first rejected one).
pub(super) fn merge(
    strategy: Strategy,
    requests: &[Request],
    calls: &[SlotCall],
    replies: &[Vec<Records>],
) -> Option<Merged> {
    let mut decided: Vec<Vec<Option<Record>>> = requests
        .iter()
        .map(|request| vec![None; request.hits])
        .collect();
    for (call, reply) in calls.iter().zip(replies) {
        if reply.len() != call.requests.len() {
            return None;
        }
        let mut start = 0;
        for (request, records) in call.requests.iter().zip(reply) {
            if records.len() > request.hits {
                return None;
            }
            for (origin, record) in call.origins[start..].iter().zip(records) {
                *decided.get_mut(origin.request)?.get_mut(origin.hit)? = Some(*record);
            }
            start += request.hits;
        }
    }
    let mut merged = Merged::default();
    for (request_index, (request, hits)) in requests.iter().zip(decided).enumerate() {
        let mut records = Records::with_capacity(hits.len());
        let mut breached = false;
        for (hit_index, hit) in hits.into_iter().enumerate() {
            match hit {
                Some(record) if breached => {
                    if counted(strategy, &record) {
                        merged.refunds.push(Origin {
                            request: request_index,
                            hit: hit_index,
                        });
                    }
                }
                Some(record) => {
                    records.push(record);
                    breached = request.mode.stop_at_first_breach && !record.allowed;
                }
                // Only a hit after a rejected one in its own slot goes undecided.
                None if breached => {}
                None => return None,
            }
        }
        merged.records.push(records);
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::hit::AdmittedReset;
    use crate::storage::redis::scripts::Mode;

    fn hit(key: &str) -> ScriptHit {
        ScriptHit {
            amount: 1,
            expiry: 1,
            cost: 1,
            keys: vec![key.to_owned()],
        }
    }

    fn request(hits: usize, stop_at_first_breach: bool) -> Request {
        Request {
            hits,
            mode: Mode {
                stop_at_first_breach,
                admitted_reset: AdmittedReset::Exact,
            },
        }
    }

    fn origin(request: usize, hit: usize) -> Origin {
        Origin { request, hit }
    }

    fn record(allowed: bool) -> Record {
        Record {
            allowed,
            fields: [0.0; 4],
        }
    }

    #[test]
    fn one_call_per_slot_each_request_in_order() {
        // `{a}x` and `{a}y` share a slot; `b` is elsewhere.
        let hits = [hit("{a}x"), hit("b"), hit("{a}y"), hit("b"), hit("{a}x")];
        assert!(!single_slot(&hits));
        assert!(single_slot(&hits[..1]));
        assert!(single_slot(&[hit("{a}x"), hit("{a}y")]));
        // Two requests: three hits (stopping at a breach), then two.
        let requests = [request(3, true), request(2, false)];
        let calls = plan(&hits, &requests);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].slot, slot(&hits[0]));
        assert_eq!(calls[0].requests, [request(2, true), request(1, false)]);
        assert_eq!(calls[0].origins, [origin(0, 0), origin(0, 2), origin(1, 1)]);
        assert_eq!(calls[1].requests, [request(1, true), request(1, false)]);
        assert_eq!(calls[1].origins, [origin(0, 1), origin(1, 0)]);
        let keys: Vec<&str> = calls[0]
            .hits
            .iter()
            .map(|hit| hit.keys[0].as_str())
            .collect();
        assert_eq!(keys, ["{a}x", "{a}y", "{a}x"]);
        assert!(plan(&[], &[]).is_empty());
    }

    #[test]
    fn merging_stops_at_the_first_breach_across_slots_and_names_the_refunds() {
        let hits = [hit("{a}x"), hit("b"), hit("{a}y")];
        let requests = [request(3, true)];
        let calls = plan(&hits, &requests);
        let one = |records: &[Record]| vec![Records::from_slice(records)];
        let (yes, no) = (record(true), record(false));

        // The first hit (slot a) is rejected: slot a stopped there, slot b counted its hit.
        let replies = [one(&[no]), one(&[yes])];
        let merged = merge(Strategy::MovingWindow, &requests, &calls, &replies).unwrap();
        assert_eq!(merged.records, [Records::from_slice(&[no])]);
        assert_eq!(merged.refunds, [origin(0, 1)]);
        // A rejected later hit was counted only by the fixed window.
        let replies = [one(&[no]), one(&[no])];
        let merged = merge(Strategy::FixedWindow, &requests, &calls, &replies).unwrap();
        assert_eq!(merged.refunds, [origin(0, 1)]);
        let merged = merge(Strategy::SlidingWindowCounter, &requests, &calls, &replies).unwrap();
        assert!(merged.refunds.is_empty());

        // The second hit (slot b) is rejected: the third (slot a, counted) is taken back.
        let replies = [one(&[yes, yes]), one(&[no])];
        let merged = merge(Strategy::GCRA, &requests, &calls, &replies).unwrap();
        assert_eq!(merged.records, [Records::from_slice(&[yes, no])]);
        assert_eq!(merged.refunds, [origin(0, 2)]);

        // Nothing rejected: every record, no refund.
        let replies = [one(&[yes, yes]), one(&[yes])];
        let merged = merge(Strategy::FixedWindow, &requests, &calls, &replies).unwrap();
        assert_eq!(merged.records, [Records::from_slice(&[yes, yes, yes])]);
        assert!(merged.refunds.is_empty());

        // Without stopping, every hit is decided and kept.
        let all = [request(3, false)];
        let calls = plan(&hits, &all);
        let replies = [one(&[no, yes]), one(&[no])];
        let merged = merge(Strategy::FixedWindow, &all, &calls, &replies).unwrap();
        assert_eq!(merged.records, [Records::from_slice(&[no, no, yes])]);
        assert!(merged.refunds.is_empty());
        // A hit left undecided though nothing before it was rejected is a broken reply.
        let replies = [one(&[no]), one(&[no])];
        assert_eq!(merge(Strategy::FixedWindow, &all, &calls, &replies), None);
        // So is a reply with the wrong number of requests.
        assert_eq!(
            merge(Strategy::FixedWindow, &all, &calls, &[one(&[no])]),
            None
        );
    }
}
