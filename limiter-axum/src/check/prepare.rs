//! A request's part of the check, worked out before anything is counted: its key, the limits
//! that apply ([`Items`]), the meta limits, and the storage identifiers of each.

use super::entry::Entry;
use super::items::{items_for, BuiltItems, Item};
use super::route::ResolvedRoute;
use crate::core::Core;
use crate::key::Key;
use crate::{Request, RequestHead};
use arrayvec::ArrayVec;
use limiter_core::{Hit, RateLimit};
use smallvec::SmallVec;

/// The request-dependent part of the check, computed without awaiting (a `&Request` is not
/// `Send`, so it must not be held across the storage calls). Small on purpose: the items are
/// borrowed (the route's plan, or the caller's buffer), never moved with it.
pub(crate) struct Prepared<'a, 'b> {
    /// The request's head (for the `on_breach` callbacks that read it).
    pub(crate) head: RequestHead<'a>,
    /// The route's limits in use (the fallback's while the storage is down).
    pub(crate) entries: &'a [Entry],
    /// The limiter's key for this request.
    pub(crate) default_key: Key<'a>,
    /// The limits that apply, smallest window first.
    pub(crate) items: &'b [Item<'a>],
    /// The meta limits that apply: (index in the limiter's meta limits, limit).
    pub(crate) meta: SmallVec<[(usize, RateLimit); 2]>,
    /// A key function needed the peer address and the request has none (served without
    /// `ConnectInfo`): answer 500 rather than count every client in one bucket.
    pub(crate) missing_peer: bool,
}

impl Prepared<'_, '_> {
    /// The key an item is counted against.
    pub(crate) fn key_of<'s>(&'s self, item: &'s Item<'_>) -> &'s str {
        item.key.as_deref().unwrap_or(&self.default_key)
    }

    /// The storage identifiers of a meta limit for this request (no key prefix, as in
    /// Flask-Limiter).
    pub(crate) fn meta_ids(&self) -> [&str; 2] {
        [self.default_key.as_ref(), "meta"]
    }
}

/// What applies to `request` on `route`, with the fallback's limits when `in_fallback`: the
/// route's plan when it has one, else items built into `built` (an empty buffer of the caller).
#[inline]
pub(crate) fn prepare<'a, 'b>(
    route: &'a ResolvedRoute,
    request: &'a Request,
    in_fallback: bool,
    built: &'b mut BuiltItems<'a>,
) -> Prepared<'a, 'b> {
    let core = &*route.core;
    let entries = route.entries(in_fallback);
    let default_key = core
        .key_func
        .request_key(request)
        .bounded(core.max_key_length);
    let mut missing_peer = default_key.is_missing_peer();
    let meta = meta_limits(route, request);
    // An empty key is logged once per limit, by `items_for`.
    let items: &'b [Item<'a>] = match (&route.plan, in_fallback, default_key.is_empty()) {
        // Nothing is counted: the check answers 500.
        _ if missing_peer => &[],
        (Some(plan), false, false) => plan,
        _ => {
            items_for(core, entries, request, &default_key, built);
            missing_peer |= built
                .iter()
                .any(|item| item.key.as_ref().is_some_and(Key::is_missing_peer));
            built
        }
    };
    Prepared {
        head: RequestHead::of(request),
        entries,
        default_key,
        items,
        meta,
        missing_peer,
    }
}

/// The meta limits that apply to this request: (index in the limiter's meta limits, limit).
fn meta_limits(route: &ResolvedRoute, request: &Request) -> SmallVec<[(usize, RateLimit); 2]> {
    let mut meta = SmallVec::new();
    if route.meta {
        for (index, limit) in route.core.meta_limits.iter().enumerate() {
            if limit.exempt_when.as_ref().is_some_and(|f| f(request)) {
                continue;
            }
            for rate in limit.rate_limits() {
                meta.push((index, *rate));
            }
        }
    }
    meta
}

/// The most items a request's lists keep on the stack; longer ones go to the heap.
const INLINE: usize = 8;

/// A per-request list: on the stack up to [`INLINE`] items (cheaper to fill than a `SmallVec`),
/// on the heap beyond.
pub(crate) enum List<T> {
    Stack(ArrayVec<T, INLINE>),
    Heap(Vec<T>),
}

impl<T> List<T> {
    /// An empty list, filled where it lies ([`fill`](Self::fill)): a filled list returned by
    /// value would be copied (hundreds of bytes) on every request.
    #[inline]
    pub(crate) fn new() -> Self {
        List::Stack(ArrayVec::new())
    }

    /// Fills an empty list with the items of `iter`, which yields at most `len` of them.
    #[inline]
    fn fill(&mut self, len: usize, iter: impl Iterator<Item = T>) {
        match self {
            List::Stack(items) if len <= INLINE => {
                for item in iter {
                    items.push(item);
                }
            }
            _ => *self = List::Heap(iter.collect()),
        }
    }
}

impl<T> std::ops::Deref for List<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            List::Stack(items) => items,
            List::Heap(items) => items,
        }
    }
}

/// The storage identifiers of each item of a request: `[prefix, key, scope]`, without the
/// prefix when it is empty.
pub(crate) struct Ids<'p> {
    ids: List<[&'p str; 3]>,
    skip: usize,
}

impl<'p> Ids<'p> {
    /// No identifiers yet: [`fill`](Self::fill) them where they lie.
    #[inline]
    pub(crate) fn new() -> Self {
        Ids {
            ids: List::new(),
            skip: 0,
        }
    }

    /// Fills empty `Ids` with the identifiers of every item of `prepared`.
    #[inline]
    pub(crate) fn fill(&mut self, core: &'p Core, prepared: &'p Prepared<'_, '_>) {
        let prefix = core.key_prefix.as_str();
        let items = prepared.items;
        self.skip = usize::from(prefix.is_empty());
        self.ids.fill(
            items.len(),
            items
                .iter()
                .map(|item| [prefix, prepared.key_of(item), item.scope.as_ref()]),
        );
    }

    /// The identifiers of the item at `index`.
    #[inline]
    pub(crate) fn of(&self, index: usize) -> &[&'p str] {
        &self.ids[index][self.skip..]
    }
}

/// Fills the empty `hits` with the hits to count before the handler: every item that is not
/// deferred, in order.
#[inline]
pub(crate) fn counted_hits<'h>(items: &'h [Item<'_>], ids: &'h Ids<'_>, hits: &mut List<Hit<'h>>) {
    let counted = items
        .iter()
        .enumerate()
        .filter(|(_, item)| !item.deferred)
        .map(|(index, item)| Hit {
            limit: &item.rate,
            identifiers: ids.of(index),
            cost: item.cost,
        });
    hits.fill(items.len(), counted);
}
