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
use super::items::Item;
use super::metrics;
use super::prepare::{counted_hits, Ids, List, Prepared};
use super::response::{breach_response, meta_response, request_limit, Breach};
use super::route::ResolvedRoute;
use super::shadow::{is_shadow, shadow_breach};
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

/// A hit to count after the response (`deduct_when`, `cost_from_response`).
pub(crate) struct Deferred {
    pub(crate) entry: usize,
    pub(crate) rate: RateLimit,
    pub(crate) identifiers: Vec<String>,
    pub(crate) cost: u64,
    /// Whether the response's headers report this limit: once it is counted they show the
    /// window after the deduction, as Flask-Limiter, which reads the window for its headers
    /// after deducting.
    pub(crate) reported: bool,
    /// Charged the response's cost (`cost_from_response`).
    pub(crate) from_response: bool,
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
            if core.shadow_mode {
                shadow_breach(&route.endpoint, &rate, &prepared.default_key);
                let scope = core.meta_limits[meta_index].scope.as_deref();
                metrics::shadow_limited(route, scope.unwrap_or("meta"), &rate);
                continue;
            }
            let stats = at_once(storage.window_stats_now(strategy, &rate, &ids), first)?;
            metrics::meta_limited(route, meta_index, &rate);
            return Ok(meta_rejection(
                core, prepared, meta_index, &rate, &ids, stats,
            ));
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
        let mut decisions = at_once(storage.acquire_all_now(strategy, &hits, stop), first)?;
        // A shadow limit's breach does not stop the counting: the rest is counted as without it.
        while stop && stopped_at_shadow(core, prepared, hits.len(), &decisions) {
            let rest = &hits[decisions.len()..];
            decisions.extend(at_once(
                storage.acquire_all_now(strategy, rest, stop),
                false,
            )?);
        }
        decisions
    };
    metrics::decided(route, prepared.items, &decisions, |item| {
        is_shadow(core.shadow_mode, &prepared.entries[item.entry].limit)
    });
    match judge(core, &route.endpoint, prepared, &ids, &decisions) {
        Judged::Pass {
            header, current, ..
        } => Ok(Outcome::Pass {
            header,
            deferred: Vec::new(),
            current,
        }),
        Judged::Breach {
            index,
            decision,
            reported,
        } => {
            for rate in core.meta_limits.iter().flat_map(|meta| meta.rate_limits()) {
                let hit = Hit {
                    limit: rate,
                    identifiers: &prepared.meta_ids(),
                    cost: 1,
                };
                at_once(storage.acquire_all_now(strategy, &[hit], false), false)?;
            }
            let (mut response, header) =
                breach(core, prepared, &ids, index, decision, reported, &decisions);
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
            if core.shadow_mode {
                shadow_breach(&route.endpoint, &rate, &prepared.default_key);
                let scope = core.meta_limits[meta_index].scope.as_deref();
                metrics::shadow_limited(route, scope.unwrap_or("meta"), &rate);
                continue;
            }
            let stats = backend.window_stats(&rate, &ids).await?;
            metrics::meta_limited(route, meta_index, &rate);
            return Ok(meta_rejection(
                core, prepared, meta_index, &rate, &ids, stats,
            ));
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
        let stop = core.fail_on_first_breach;
        let mut decisions = backend
            .acquire_all_with(&hits, stop, admitted_reset)
            .await?;
        // A shadow limit's breach does not stop the counting: the rest is counted as without it.
        while stop && stopped_at_shadow(core, prepared, hits.len(), &decisions) {
            let rest = &hits[decisions.len()..];
            decisions.extend(backend.acquire_all_with(rest, stop, admitted_reset).await?);
        }
        decisions
    };
    let has_deferred = prepared.items.iter().any(|item| item.deferred);
    if has_deferred {
        decisions = with_deferred(backend, prepared, &ids, decisions).await?;
    }
    metrics::decided(route, prepared.items, &decisions, |item| {
        is_shadow(core.shadow_mode, &prepared.entries[item.entry].limit)
    });
    match judge(core, &route.endpoint, prepared, &ids, &decisions) {
        Judged::Pass {
            header,
            reported,
            current,
        } => Ok(Outcome::Pass {
            header,
            deferred: deferred_hits(prepared, &ids, reported),
            current,
        }),
        Judged::Breach {
            index,
            decision,
            reported,
        } => {
            for rate in core.meta_limits.iter().flat_map(|meta| meta.rate_limits()) {
                backend.acquire(rate, &prepared.meta_ids(), 1).await?;
            }
            let (mut response, header) =
                breach(core, prepared, &ids, index, decision, reported, &decisions);
            let mut header = Some(header);
            if has_deferred {
                let deferred = deferred_hits(prepared, &ids, Some(reported));
                let due = due(prepared.entries, &deferred, &response, Answer::Limiter);
                header = deduct(core, backend, due, header).await;
            }
            if let Some(header) = header {
                let header = ietf_headers::attach(core, header, prepared, &ids, &decisions);
                write_headers(core, &mut response, header);
            }
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
        /// The item the headers report.
        reported: Option<usize>,
        current: Option<CurrentLimits>,
    },
    /// The first item that refused it (the 429 names it), and the last (the headers report it,
    /// as Flask-Limiter's, when `fail_on_first_breach(false)` lets several refuse).
    Breach {
        index: usize,
        decision: Decision,
        reported: usize,
    },
}

/// Whether the counting of `hits` hits, which gave `decisions`, stopped early at the breach of a
/// shadow limit (so the rest must still be counted).
#[inline]
fn stopped_at_shadow(
    core: &Core,
    prepared: &Prepared<'_, '_>,
    hits: usize,
    decisions: &[Decision],
) -> bool {
    if decisions.is_empty() || decisions.len() >= hits {
        return false;
    }
    // The last decision is that of the last counted hit: the items that are not deferred.
    let breached = prepared
        .items
        .iter()
        .filter(|item| !item.deferred)
        .nth(decisions.len() - 1);
    breached.is_some_and(|item| is_shadow(core.shadow_mode, &prepared.entries[item.entry].limit))
}

#[inline]
fn judge(
    core: &Core,
    endpoint: &str,
    prepared: &Prepared<'_, '_>,
    ids: &Ids<'_>,
    decisions: &[Decision],
) -> Judged {
    let refused = decisions.iter().any(|decision| !decision.allowed);
    if refused {
        if let Some(breach) = enforced_breach(core, endpoint, prepared, decisions) {
            return breach;
        }
    }
    // Nothing is left undecided without a breach.
    let items = &prepared.items[..decisions.len()];
    let reported_item = || reported(core, prepared, decisions, refused);
    let reported = if core.headers_enabled {
        reported_item()
    } else {
        None
    };
    let header =
        reported.map(|position| HeaderInfo::of(&items[position].rate, decisions[position]));
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
        CurrentLimits::new(limits, reported_item())
    });
    Judged::Pass {
        header,
        reported,
        current,
    }
}

/// The breach of a request some of whose items refused it, reporting each refusal of a shadow
/// limit; `None` when only shadow limits refused it (it passes).
#[cold]
fn enforced_breach(
    core: &Core,
    endpoint: &str,
    prepared: &Prepared<'_, '_>,
    decisions: &[Decision],
) -> Option<Judged> {
    let items = &prepared.items[..decisions.len()];
    let enforced =
        |item: &Item<'_>| !is_shadow(core.shadow_mode, &prepared.entries[item.entry].limit);
    let mut first = None;
    let mut last = None;
    for (index, (item, decision)) in items.iter().zip(decisions).enumerate() {
        if decision.allowed {
            continue;
        }
        if enforced(item) {
            first = first.or(Some(index));
            last = Some(index);
        } else {
            shadow_breach(endpoint, &item.rate, prepared.key_of(item));
        }
    }
    let index = first?;
    Some(Judged::Breach {
        index,
        decision: decisions[index],
        reported: last.unwrap_or(index),
    })
}

/// The item the headers of a request that passes report: the last refusal of a shadow limit
/// (what the client would see were it enforced), else the first limit that is not shared, else
/// the first; shadow limits left out with `shadow_headers(false)`. `refused` tells whether any
/// item refused the request.
#[inline]
fn reported(
    core: &Core,
    prepared: &Prepared<'_, '_>,
    decisions: &[Decision],
    refused: bool,
) -> Option<usize> {
    let items = &prepared.items[..decisions.len()];
    if core.shadow_headers && !refused {
        return header_limit(items.iter().map(|item| item.shared));
    }
    let shown = |item: &Item<'_>| {
        core.shadow_headers || !is_shadow(core.shadow_mode, &prepared.entries[item.entry].limit)
    };
    let shadow_refusal = items
        .iter()
        .zip(decisions)
        .rposition(|(item, decision)| !decision.allowed && shown(item));
    shadow_refusal.or_else(|| {
        items
            .iter()
            .position(|item| shown(item) && !item.shared)
            .or_else(|| items.iter().position(shown))
    })
}

/// The 429 of the item at `index`, breached with `decision`, and the headers of the item at
/// `reported` (written by the caller: `deduct_when` predicates see the response without them).
fn breach(
    core: &Core,
    prepared: &Prepared<'_, '_>,
    ids: &Ids<'_>,
    index: usize,
    decision: Decision,
    reported: usize,
    decisions: &[Decision],
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
        head: &prepared.head,
    };
    let response = breach_response(core, &breach, || entry.body_for(&item.rate));
    let header = HeaderInfo::of(&prepared.items[reported].rate, decisions[reported]);
    (response, header)
}

/// The 429 of the meta limit `rate` (of the limiter's meta limit `meta_index`), with headers.
fn meta_rejection(
    core: &Core,
    prepared: &Prepared<'_, '_>,
    meta_index: usize,
    rate: &RateLimit,
    ids: &[&str],
    stats: WindowStats,
) -> Outcome {
    let meta = &core.meta_limits[meta_index];
    let mut response = meta_response(core, meta, rate, ids, stats, &prepared.head);
    let header = ietf_headers::meta_header(core, meta, rate, ids, stats);
    write_headers(core, &mut response, header);
    Outcome::Reject(response)
}

/// The `deduct_when` hits of the request, to count after the response; `reported` is the item
/// the headers report.
fn deferred_hits(
    prepared: &Prepared<'_, '_>,
    ids: &Ids<'_>,
    reported: Option<usize>,
) -> Vec<Deferred> {
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
            reported: reported == Some(index),
            from_response: prepared.entries[item.entry].limit.cost_from_response,
        })
        .collect()
}

/// Who answered a request whose deferred hits are now due.
pub(crate) enum Answer {
    /// The handler, which set this cost on its response, if any ([`ResponseCost`](crate::ResponseCost)).
    Handler(Option<u64>),
    /// The limiter: the request was refused before the handler.
    Limiter,
}

/// The deferred hits the response is charged, each with its cost: a `deduct_when` limit when its
/// predicate accepts the response (also the limiter's 429, as Flask-Limiter); a
/// `cost_from_response` limit when the handler answered (and its `deduct_when`, if any, accepts
/// the response), charged the response's cost, else its own. Decided before any await: a
/// `&Response` is not `Send`.
pub(crate) fn due<'a>(
    entries: &[Entry],
    deferred: &'a [Deferred],
    response: &Response,
    answer: Answer,
) -> SmallVec<[(&'a Deferred, u64); 2]> {
    deferred
        .iter()
        .filter_map(|item| {
            let limit = &entries[item.entry].limit;
            let accepted = limit
                .deduct_when
                .as_ref()
                .is_none_or(|predicate| predicate(response));
            if !accepted {
                return None;
            }
            if !limit.cost_from_response {
                return Some((item, item.cost));
            }
            match answer {
                Answer::Handler(cost) => Some((item, cost.unwrap_or(item.cost))),
                Answer::Limiter if limit.deduct_when.is_some() => Some((item, item.cost)),
                Answer::Limiter => None,
            }
        })
        .collect()
}

/// Counts the `due` hits after the response; a storage error is logged and swallowed. A
/// `cost_from_response` charge larger than what remains fills the window: the strategies that
/// cannot count beyond the limit (moving window, sliding window counter) are charged what
/// remains, the fixed window counts it all.
///
/// Returns `header` as the response must report it: when the limit it reports was counted now,
/// re-read after the deduction (its remaining lowered, the reset of a window that has just
/// started), as Flask-Limiter reads the window for its headers after deducting. `None` when
/// there is no header.
pub(crate) async fn deduct(
    core: &Core,
    backend: &RateLimiter,
    due: SmallVec<[(&Deferred, u64); 2]>,
    header: Option<HeaderInfo>,
) -> Option<HeaderInfo> {
    let mut header = header;
    for (item, cost) in due {
        let ids: SmallVec<[&str; 3]> = item.identifiers.iter().map(String::as_str).collect();
        let result = match core.fault(backend) {
            Ok(()) => charge(backend, item, &ids, cost).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::error!(%error, "Failed to deduct rate limit. Swallowing error");
            continue;
        }
        if item.reported && header.is_some() {
            match backend.window_stats(&item.rate, &ids).await {
                Ok(stats) => header = header.map(|reported| reported.in_window(stats)),
                Err(error) => {
                    tracing::error!(%error, "Failed to update rate limit headers. Swallowing error");
                }
            }
        }
    }
    header
}

/// Counts `cost` of the deferred `item`; a refused response cost fills what remains.
async fn charge(
    backend: &RateLimiter,
    item: &Deferred,
    ids: &[&str],
    cost: u64,
) -> Result<(), StorageError> {
    let decision = backend.acquire(&item.rate, ids, cost).await?;
    if decision.allowed || !item.from_response {
        return Ok(());
    }
    let remaining = backend.window_stats(&item.rate, ids).await?.remaining;
    if remaining > 0 {
        backend.acquire(&item.rate, ids, remaining).await?;
    }
    Ok(())
}
