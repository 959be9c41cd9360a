//! Which of a route's limits apply to a request, as [`Item`]s: each with its key, bucket and
//! cost, smallest window first. Built once per route when nothing depends on the request
//! ([`plan`]), else per request ([`items_for`]).

use super::entry::{Entry, EntryKind};
use crate::core::Core;
use crate::decl::Provider;
use crate::key::Key;
use crate::Request;
use limiter_core::{parse_many, RateLimit};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::Arc;

/// One limit to check for this request.
pub(crate) struct Item<'a> {
    /// The index of the limit's [`Entry`] in the route's entries.
    pub(crate) entry: usize,
    pub(crate) rate: RateLimit,
    /// The limit's own key, or `None` for the limiter's (`Prepared::default_key`).
    pub(crate) key: Option<Key<'a>>,
    pub(crate) scope: Cow<'a, str>,
    pub(crate) cost: u64,
    pub(crate) shared: bool,
    /// Counted after the response (`deduct_when`), only tested before it.
    pub(crate) deferred: bool,
}

/// A request's own items, when the route has no plan: on the stack up to six (the caller's
/// buffer, filled in place: a request's state is not moved around by value).
pub(crate) type BuiltItems<'a> = SmallVec<[Item<'a>; 6]>;

/// The items of a route whose limits do not depend on the request — static strings, the
/// limiter's key, a fixed cost, no method filter, per-method bucket, `exempt_when` or
/// `deduct_when` (the quickstart's shape) — built once when the route is resolved rather than on
/// every request. `None` when any limit depends on the request.
pub(crate) fn plan(entries: &[Entry]) -> Option<Box<[Item<'static>]>> {
    let independent = entries.iter().all(|entry| {
        let limit = &entry.limit;
        matches!(limit.provider, Provider::Static { .. })
            && limit.methods.is_none()
            && !limit.per_method
            && limit.exempt_when.is_none()
            && limit.key_func.is_none()
            && limit.cost.is_none()
            && !limit.counts_after_response()
    });
    if !independent {
        return None;
    }
    // With no method filter, every decorated limit applies to every request, so defaults that
    // stand in for method-exempt decorated limits never do.
    let decorated = entries.iter().any(|e| e.kind == EntryKind::Decorated);
    let mut items = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if entry.kind == EntryKind::DefaultFallback && decorated {
            continue;
        }
        let Provider::Static { limits, .. } = &entry.limit.provider else {
            continue;
        };
        for rate in limits.iter() {
            items.push(Item {
                entry: index,
                rate: *rate,
                key: None,
                scope: Cow::Owned(entry.scope.to_string()),
                cost: entry.limit.fixed_cost,
                shared: entry.limit.shared,
                deferred: false,
            });
        }
    }
    items.sort_by(|a, b| a.rate.granularity_order(&b.rate));
    Some(items.into())
}

/// The limits of `entries` that apply to `request`, smallest window first, into `items` (empty).
pub(crate) fn items_for<'a>(
    core: &Core,
    entries: &'a [Entry],
    request: &'a Request,
    default_key: &str,
    items: &mut BuiltItems<'a>,
) {
    let method = request.method();
    let decorated_applies = entries
        .iter()
        .any(|e| e.kind == EntryKind::Decorated && e.applies_to(method));

    for (index, entry) in entries.iter().enumerate() {
        if entry.kind == EntryKind::DefaultFallback && decorated_applies {
            continue;
        }
        if !entry.applies_to(method) {
            continue;
        }
        if let Some(exempt_when) = &entry.limit.exempt_when {
            if exempt_when(request) {
                continue;
            }
        }
        let key = entry
            .limit
            .key_func
            .as_ref()
            .map(|key_func| key_func.request_key(request).bounded(core.max_key_length));
        // A key function without the peer address: kept, so that the check answers 500.
        let missing_peer = key.as_ref().is_some_and(Key::is_missing_peer);
        if !missing_peer && key.as_deref().unwrap_or(default_key).is_empty() {
            tracing::error!(
                "Skipping limit: {}. Empty value found in parameters.",
                entry.limit
            );
            continue;
        }
        let scope = entry.scope_for(method);
        let cost = entry.limit.cost_of(request);
        let deferred = entry.limit.counts_after_response();
        let mut push = |rate: RateLimit| {
            items.push(Item {
                entry: index,
                rate,
                key: key.clone(),
                scope: scope.clone(),
                cost,
                shared: entry.limit.shared,
                deferred,
            })
        };
        match &entry.limit.provider {
            Provider::Static { limits, .. } => limits.iter().copied().for_each(&mut push),
            Provider::Dynamic(provider) => {
                let source = provider(request);
                match dynamic_limits(core, &source) {
                    Some(limits) => limits.iter().copied().for_each(&mut push),
                    None => continue,
                }
            }
            Provider::Invalid { .. } => continue,
        }
    }
    // Smallest window first (a stable sort, as Flask-Limiter sorts by granularity): among ties the
    // registration order, which for stacked attributes is bottom-up, as Python applies decorators.
    items.sort_by(|a, b| a.rate.granularity_order(&b.rate));
}

/// The parsed limits of a dynamic limit string, from the cache or parsed now; `None` (logged)
/// when the string does not parse.
fn dynamic_limits(core: &Core, source: &str) -> Option<Arc<[RateLimit]>> {
    if let Some(limits) = core.dynamic_cache.read().get(source) {
        return Some(limits.clone());
    }
    match parse_many(source) {
        Ok(limits) => {
            let limits: Arc<[RateLimit]> = limits.into();
            let mut cache = core.dynamic_cache.write();
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(source.into(), limits.clone());
            Some(limits)
        }
        Err(error) => {
            tracing::error!(%error, "failed to load dynamic rate limit; the limit is skipped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decl::Limit;
    use crate::registry::LimitSource;
    use crate::{get_remote_address, Limiter};
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::Method;
    use std::net::SocketAddr;

    fn core() -> Arc<Core> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let limiter: Limiter = runtime
            .block_on(Limiter::new(get_remote_address).build())
            .unwrap();
        limiter.core.clone()
    }

    fn entry(limit: Limit, kind: EntryKind) -> Entry {
        let source = match kind {
            EntryKind::Decorated => LimitSource::Route,
            _ => LimitSource::Default,
        };
        Entry::new(limit, source, kind, "items", &[Method::GET, Method::POST])
    }

    fn request(method: Method) -> Request {
        let peer: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        axum::http::Request::builder()
            .method(method)
            .uri("/items")
            .extension(ConnectInfo(peer))
            .body(Body::empty())
            .unwrap()
    }

    /// What decides a check: (entry, limit, own key, bucket, cost, shared, deferred).
    type Summary = (usize, String, Option<String>, String, u64, bool, bool);

    fn summary(items: &[Item<'_>]) -> Vec<Summary> {
        items
            .iter()
            .map(|item| {
                (
                    item.entry,
                    item.rate.to_string(),
                    item.key.as_deref().map(str::to_owned),
                    item.scope.to_string(),
                    item.cost,
                    item.shared,
                    item.deferred,
                )
            })
            .collect()
    }

    #[test]
    fn a_plan_is_what_the_request_path_builds() {
        let core = core();
        let shapes = [
            // The quickstart: defaults only.
            vec![
                entry(Limit::new("200 per day"), EntryKind::Always),
                entry(Limit::new("50 per hour"), EntryKind::Always),
            ],
            // Decorated limits (several per string, a shared one, a cost) override the defaults.
            vec![
                entry(Limit::new("5 per minute; 2/second"), EntryKind::Decorated),
                entry(
                    Limit::new("1/day").scope("s").shared(),
                    EntryKind::Decorated,
                ),
                entry(Limit::new("10/hour").cost(3), EntryKind::Decorated),
                entry(Limit::new("200 per day"), EntryKind::DefaultFallback),
                entry(Limit::new("1000/hour"), EntryKind::Always),
            ],
            // Defaults kept only as the fallback of no decorated limit.
            vec![entry(Limit::new("3/minute"), EntryKind::DefaultFallback)],
        ];
        for entries in shapes {
            let plan = plan(&entries).expect("these limits do not depend on the request");
            for method in [Method::GET, Method::POST] {
                let request = request(method);
                let mut built = BuiltItems::new();
                items_for(&core, &entries, &request, "10.1.2.3", &mut built);
                assert_eq!(summary(&plan), summary(&built));
            }
        }
    }

    fn fixed_key(_: &Request) -> Cow<'_, str> {
        Cow::Borrowed("k")
    }

    #[test]
    fn limits_that_depend_on_the_request_have_no_plan() {
        let dependent = [
            Limit::new("1/second").methods([Method::POST]),
            Limit::new("1/second").per_method(),
            Limit::new("1/second").exempt_when(|_| false),
            Limit::new("1/second").deduct_when(|_| true),
            Limit::new("1/second").cost_fn(|_| 1),
            Limit::new("1/second").key_func(fixed_key),
            Limit::dynamic(|_| Cow::Borrowed("1/second")),
        ];
        for limit in dependent {
            let shown = format!("{limit:?}");
            let entries = [
                entry(Limit::new("200 per day"), EntryKind::Always),
                entry(limit, EntryKind::Decorated),
            ];
            assert!(plan(&entries).is_none(), "{shown}");
        }
    }
}
