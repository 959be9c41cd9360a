//! The decision: whether a request passes and, if it does, what its headers and
//! [`CurrentLimits`] report.
//!
//! One decision, asked of the storage in one of two ways: [`decide_now`] when the storage
//! answers at once (memory), so that the handler's own future is returned without boxing, and
//! [`decide`] when it must wait. Both take the same steps — the meta limits, one batch of hits,
//! then [`judge`] and the same responses — and differ only in how each question is put.

use super::entry::Entry;
use super::headers::{header_limit, write_headers, HeaderInfo};
use super::ietf_headers;
use super::metrics;
use super::prepare::{counted_hits, Ids, List, Prepared};
use super::response::{breach_response, meta_response, request_limit, Breach};
use super::route::ResolvedRoute;
use crate::core::Core;
use crate::current::CurrentLimits;
use crate::Response;
use limiter_core::{
    AdmittedReset, Decision, Decisions, Hit, RateLimit, RateLimiter, StorageError, WindowStats,
};
use smallvec::SmallVec;

/// What the check decided before the handler.
pub(crate) enum Outcome {
    /// Run the handler.
    Pass {
        /// The rate-limit headers to add to its response, if enabled.
        header: Option<HeaderInfo>,
        /// The `deduct_when` hits to count after it, if its response qualifies.
        deferred: Vec<Deferred>,
        /// The evaluated limits, when handlers may ask for them.
        current: Option<CurrentLimits>,
    },
    /// Answer this instead (a 429, with its headers).
    Reject(Response),
}

/// A `deduct_when` hit to count after the response.
pub(crate) struct Deferred {
    pub(crate) entry: usize,
    pub(crate) rate: RateLimit,
    pub(crate) identifiers: Vec<String>,
    pub(crate) cost: u64,
}

/// Why [`decide_now`] did not decide.
pub(crate) enum Undecided {
    /// The storage must wait: nothing was counted, decide with [`decide`].
    Wait,
    /// The storage answered a first question at once but not a later one.
    Stalled,
    /// The storage failed.
    Failed(StorageError),
}

/// The decision, taken now on the primary storage: `Undecided::Wait` (with nothing counted) when
/// the storage cannot answer without waiting. The route must count nothing after the response.
pub(crate) fn decide_now(
    route: &ResolvedRoute,
    prepared: &Prepared<'_, '_>,
) -> Result<Outcome, Undecided> {
    let core = &*route.core;
    let (storage, strategy) = (core.primary.storage(), core.primary.strategy());
    // The first question tells whether the storage answers at once; nothing is counted before.
    let mut first = true;
    for &(meta_index, rate) in &prepared.meta {
        let ids = prepared.meta_ids();
        let hit = Hit {
            limit: &rate,
            identifiers: &ids,
            cost: 1,
        };
        let allowed = at_once(storage.test_now(strategy, hit), first)?;
        first = false;
        if !allowed {
            let stats = at_once(storage.window_stats_now(strategy, &rate, &ids), first)?;
            metrics::meta_limited(route, meta_index, &rate);
            return Ok(meta_rejection(core, meta_index, &rate, &ids, stats));
        }
    }
    // Filled in place: returned by value, these lists would be copied on every request.
    let mut ids = Ids::new();
    ids.fill(core, prepared);
    let mut hits = List::new();
    counted_hits(prepared.items, &ids, &mut hits);
    let decisions = if hits.is_empty() {
        Decisions::new()
    } else {
        let stop = core.fail_on_first_breach;
        at_once(storage.acquire_all_now(strategy, &hits, stop), first)?
    };
    metrics::decided(route, prepared.items, &decisions);
    match judge(core, prepared, &ids, &decisions) {
        Judged::Pass { header, current } => Ok(Outcome::Pass {
            header,
            deferred: Vec::new(),
            current,
        }),
        Judged::Breach { index, decision } => {
            for rate in core.meta_limits.iter().flat_map(|meta| meta.rate_limits()) {
                let hit = Hit {
                    limit: rate,
                    identifiers: &prepared.meta_ids(),
                    cost: 1,
                };
                at_once(storage.acquire_all_now(strategy, &[hit], false), false)?;
            }
            let (mut response, header) = breach(core, prepared, &ids, index, decision);
            let header = ietf_headers::attach(core, header, prepared, &ids, &decisions);
            write_headers(core, &mut response, header);
            Ok(Outcome::Reject(response))
        }
    }
}

/// An answer of a storage asked to answer at once.
#[inline]
fn at_once<T>(answer: Option<Result<T, StorageError>>, first: bool) -> Result<T, Undecided> {
    match answer {
        Some(Ok(answer)) => Ok(answer),
        Some(Err(error)) => Err(Undecided::Failed(error)),
        None if first => Err(Undecided::Wait),
        None => Err(Undecided::Stalled),
    }
}

/// The decision, waiting on `backend` (the primary storage or the in-memory fallback).
pub(crate) async fn decide(
    route: &ResolvedRoute,
    prepared: &Prepared<'_, '_>,
    backend: &RateLimiter,
) -> Result<Outcome, StorageError> {
    let core = &*route.core;
    core.fault(backend)?;
    for &(meta_index, rate) in &prepared.meta {
        let ids = prepared.meta_ids();
        if !backend.test(&rate, &ids, 1).await? {
            let stats = backend.window_stats(&rate, &ids).await?;
            metrics::meta_limited(route, meta_index, &rate);
            return Ok(meta_rejection(core, meta_index, &rate, &ids, stats));
        }
    }
    // Filled in place: returned by value, these lists would be copied on every request.
    let mut ids = Ids::new();
    ids.fill(core, prepared);
    let mut hits = List::new();
    counted_hits(prepared.items, &ids, &mut hits);
    let mut decisions = if hits.is_empty() {
        Decisions::new()
    } else {
        // Admitted hits' reset times are only reported by headers and `CurrentLimits`.
        let admitted_reset = if core.headers_enabled || core.current_limits {
            AdmittedReset::Exact
        } else {
            AdmittedReset::UpperBound
        };
        backend
            .acquire_all_with(&hits, core.fail_on_first_breach, admitted_reset)
            .await?
    };
    let deferred = deferred_hits(prepared, &ids);
    if !deferred.is_empty() {
        decisions = with_deferred(backend, prepared, &ids, decisions).await?;
    }
    metrics::decided(route, prepared.items, &decisions);
    match judge(core, prepared, &ids, &decisions) {
        Judged::Pass { header, current } => Ok(Outcome::Pass {
            header,
            deferred,
            current,
        }),
        Judged::Breach { index, decision } => {
            for rate in core.meta_limits.iter().flat_map(|meta| meta.rate_limits()) {
                backend.acquire(rate, &prepared.meta_ids(), 1).await?;
            }
            let (mut response, header) = breach(core, prepared, &ids, index, decision);
            let header = ietf_headers::attach(core, header, prepared, &ids, &decisions);
            if !deferred.is_empty() {
                let due = due(prepared.entries, &deferred, &response);
                deduct(core, backend, due).await;
            }
            write_headers(core, &mut response, header);
            Ok(Outcome::Reject(response))
        }
    }
}

/// The decisions of every item in item order: `counted` (the storage's answers for the items
/// that are not deferred) merged with a test of each deferred item. It ends where `counted` did
/// (after a breach, with `fail_on_first_breach`): the breach is the first refusal either way.
async fn with_deferred(
    backend: &RateLimiter,
    prepared: &Prepared<'_, '_>,
    ids: &Ids<'_>,
    counted: Decisions,
) -> Result<Decisions, StorageError> {
    let mut tested: SmallVec<[Decision; 2]> = SmallVec::new();
    for (index, item) in prepared.items.iter().enumerate() {
        if item.deferred {
            let identifiers = ids.of(index);
            let allowed = backend.test(&item.rate, identifiers, item.cost).await?;
            let stats = backend.window_stats(&item.rate, identifiers).await?;
            tested.push(Decision {
                allowed,
                remaining: stats.remaining,
                reset_at: stats.reset_at,
            });
        }
    }
    let (mut counted, mut tested) = (counted.into_iter(), tested.into_iter());
    let mut merged = Decisions::new();
    for item in prepared.items.iter() {
        let next = if item.deferred {
            tested.next()
        } else {
            counted.next()
        };
        match next {
            Some(decision) => merged.push(decision),
            None => break,
        }
    }
    Ok(merged)
}

/// What the decisions of a request's items (in item order) amount to.
enum Judged {
    /// Every decided item admitted the request.
    Pass {
        header: Option<HeaderInfo>,
        current: Option<CurrentLimits>,
    },
    /// The first item that refused it.
    Breach { index: usize, decision: Decision },
}

#[inline]
fn judge(
    core: &Core,
    prepared: &Prepared<'_, '_>,
    ids: &Ids<'_>,
    decisions: &[Decision],
) -> Judged {
    if let Some(index) = decisions.iter().position(|decision| !decision.allowed) {
        return Judged::Breach {
            index,
            decision: decisions[index],
        };
    }
    // Nothing is left undecided without a breach.
    let items = &prepared.items[..decisions.len()];
    let header_position = || header_limit(items.iter().map(|item| item.shared));
    let header = if core.headers_enabled {
        header_position().map(|position| HeaderInfo::of(&items[position].rate, decisions[position]))
    } else {
        None
    };
    let header = header.map(|header| ietf_headers::attach(core, header, prepared, ids, decisions));
    // Flask-Limiter's `current_limits`: only built when handlers may ask for it, so the allowed
    // path stays free of these allocations otherwise.
    let current = core.current_limits.then(|| {
        let limits = items
            .iter()
            .zip(decisions)
            .enumerate()
            .map(|(index, (item, decision))| {
                request_limit(
                    &item.rate,
                    ids.of(index),
                    !decision.allowed,
                    item.shared,
                    decision.remaining,
                    decision.reset_at,
                )
            })
            .collect();
        CurrentLimits::new(limits, header_position())
    });
    Judged::Pass { header, current }
}

/// The 429 of the item at `index`, breached with `decision`, and its headers (written by the
/// caller: `deduct_when` predicates see the response without them).
fn breach(
    core: &Core,
    prepared: &Prepared<'_, '_>,
    ids: &Ids<'_>,
    index: usize,
    decision: Decision,
) -> (Response, HeaderInfo) {
    let item = &prepared.items[index];
    let entry = &prepared.entries[item.entry];
    let breach = Breach {
        limit: &entry.limit,
        rate: &item.rate,
        scope: &item.scope,
        key: prepared.key_of(item),
        identifiers: ids.of(index),
        shared: item.shared,
        decision,
    };
    let response = breach_response(core, &breach, || entry.body_for(&item.rate));
    (response, HeaderInfo::of(&item.rate, decision))
}

/// The 429 of the meta limit `rate` (of the limiter's meta limit `meta_index`), with headers.
fn meta_rejection(
    core: &Core,
    meta_index: usize,
    rate: &RateLimit,
    ids: &[&str],
    stats: WindowStats,
) -> Outcome {
    let meta = &core.meta_limits[meta_index];
    let mut response = meta_response(core, meta, rate, ids, stats);
    let header = ietf_headers::meta_header(core, meta, rate, ids, stats);
    write_headers(core, &mut response, header);
    Outcome::Reject(response)
}

/// The `deduct_when` hits of the request, to count after the response.
fn deferred_hits(prepared: &Prepared<'_, '_>, ids: &Ids<'_>) -> Vec<Deferred> {
    prepared
        .items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.deferred)
        .map(|(index, item)| Deferred {
            entry: item.entry,
            rate: item.rate,
            identifiers: ids.of(index).iter().map(|s| (*s).to_owned()).collect(),
            cost: item.cost,
        })
        .collect()
}

/// The `deduct_when` hits whose predicate accepts the response (decided before any await: a
/// `&Response` is not `Send`).
pub(crate) fn due<'a>(
    entries: &[Entry],
    deferred: &'a [Deferred],
    response: &Response,
) -> SmallVec<[&'a Deferred; 2]> {
    deferred
        .iter()
        .filter(|item| {
            entries[item.entry]
                .limit
                .deduct_when
                .as_ref()
                .is_some_and(|predicate| predicate(response))
        })
        .collect()
}

/// Counts the `due` hits after the response; a storage error is logged and swallowed.
pub(crate) async fn deduct(core: &Core, backend: &RateLimiter, due: SmallVec<[&Deferred; 2]>) {
    for item in due {
        let ids: SmallVec<[&str; 3]> = item.identifiers.iter().map(String::as_str).collect();
        let result = match core.fault(backend) {
            Ok(()) => backend
                .acquire(&item.rate, &ids, item.cost)
                .await
                .map(|_| ()),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::error!(%error, "Failed to deduct rate limit. Swallowing error");
        }
    }
}
