//! Script calls on a Redis Cluster: one call per hash slot, all slots at once.
//!
//! A call's hits (one request's, or the coalesced hits of many: `batch.rs` runs on a cluster too)
//! are [planned](super::slots::plan) as one script call per slot, each request's hits of a slot
//! forming one request of that slot's call. The slots' calls are sent **concurrently**, so a
//! request whose limits live in three slots costs one round trip of wall time (three calls, one
//! per master at most), and concurrent requests whose hits share a slot share that slot's call.
//!
//! # `stop_at_first_breach` across slots
//!
//! On one server, the hits after a request's first rejected one are neither decided nor counted
//! (Flask-Limiter's behaviour, which the middleware keeps by default). Across slots that would
//! mean one round trip per slot, one after the other. Instead each slot's call stops at the
//! request's first rejected hit *in that slot*, all slots are decided at once, and then:
//!
//! * the request's decisions are those up to its first rejected hit over all slots, exactly as
//!   on one server;
//! * a hit after that one that another slot counted anyway (speculatively) is **taken back** by
//!   one refund call per slot ([`refund`](super::refund)), before the request gets its
//!   decisions. When `acquire` returns, the stored counts are those of a single server.
//!
//! What this costs in accuracy, only while such a speculative hit is counted (from its slot's
//! call to its refund, one round trip):
//!
//! * **Never an admission too many** in that time: a speculative hit only raises a count, so a
//!   concurrent request may see one more hit than there will be and be **rejected** where a
//!   single server would have admitted it. At most one wrongly rejected hit per speculative hit
//!   in flight, and only on limits that follow a breached one, near their own limit.
//! * **A window that ends in between**: a refund finds the counter by its key; if the window
//!   ended and a new one began during that round trip (fixed window: the key expired and was
//!   created again; sliding window: the current counter rolled over), the hit is taken from the
//!   new window, which admits up to its cost more. A window's end falls in a given round trip with
//!   probability round trip / window (about 10⁻³ for a 1 ms trip and a 1 s window, and only for
//!   requests that were breached).
//! * **A refund that fails** (the node went away) is logged and leaves the hit counted: the later
//!   limit counts one hit too many until its window ends, as a hit sent just before an outage.
//!
//! A request breached by an earlier limit in another slot therefore costs two round trips (the
//! slots, then the refund); one that is not breached, or breached in its last slot, one. A batch
//! whose hits all share one slot is a single call, as on one server.

use super::errors::unexpected;
use super::refund;
use super::scripts::{Call, Records, ScriptHit};
use super::slots::{self, Origin};
use super::storage::Inner;
use redis::cluster_routing::Slot;
use redis::RedisResult;

impl Inner {
    /// One script call's worth of requests on any topology: one call, or on a cluster one per
    /// slot its hits touch. Returns the records of each request, as [`eval`](Self::eval).
    pub(super) async fn eval_any(&self, call: &Call<'_>) -> RedisResult<Vec<Records>> {
        if !self.connection.is_cluster() || slots::single_slot(call.hits) {
            return self.eval(call).await;
        }
        self.eval_across_slots(call).await
    }

    /// The slots' calls at once, their records merged, the speculative hits taken back.
    async fn eval_across_slots(&self, call: &Call<'_>) -> RedisResult<Vec<Records>> {
        let planned = slots::plan(call.hits, call.requests);
        let replies = futures_util::future::try_join_all(planned.iter().map(|slot_call| {
            let slot_call = Call {
                hits: &slot_call.hits,
                requests: &slot_call.requests,
                ..*call
            };
            async move { self.eval(&slot_call).await }
        }))
        .await?;
        let merged = slots::merge(call.strategy, call.requests, &planned, &replies)
            .ok_or_else(|| unexpected("records do not fit the requests"))?;
        if !merged.refunds.is_empty() && !call.peek {
            self.refund(call, &merged.refunds).await;
        }
        Ok(merged.records)
    }

    /// Takes back the hits of `call` at `origins`, one refund call per slot, all at once. A
    /// failed refund is logged: the decisions stand, the hit stays counted.
    async fn refund(&self, call: &Call<'_>, origins: &[Origin]) {
        let mut starts = Vec::with_capacity(call.requests.len());
        let mut start = 0;
        for request in call.requests {
            starts.push(start);
            start += request.hits;
        }
        let mut by_slot: Vec<(Option<Slot>, Vec<&ScriptHit>)> = Vec::new();
        for origin in origins {
            let Some(hit) = starts
                .get(origin.request)
                .and_then(|start| call.hits.get(start + origin.hit))
            else {
                continue;
            };
            if hit.cost == 0 {
                continue;
            }
            let slot = slots::slot(hit);
            match by_slot.iter_mut().find(|(other, _)| *other == slot) {
                Some((_, hits)) => hits.push(hit),
                None => by_slot.push((slot, vec![hit])),
            }
        }
        let refunds = by_slot
            .iter()
            .map(|(_, hits)| self.eval_refund(refund::evalsha(call.strategy, call.now, hits)));
        for result in futures_util::future::join_all(refunds).await {
            if let Err(error) = result {
                tracing::warn!(
                    %error,
                    "rate limit refund failed: a hit after a breached limit stays counted"
                );
            }
        }
    }

    /// Sends one refund, loading the script after `NOSCRIPT`.
    async fn eval_refund(&self, evalsha: redis::Cmd) -> RedisResult<redis::Value> {
        match self.connection.query(&evalsha).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.connection.query(&refund::load()).await?;
                self.connection.query(&evalsha).await
            }
            other => other,
        }
    }
}
