//! [`Entry`]: one declared limit resolved for one route — its kind, its buckets and its
//! precomputed 429 bodies.

use super::response::too_many_requests_body;
use crate::decl::{Limit, Provider};
use crate::registry::LimitSource;
use axum::body::Bytes;
use axum::http::Method;
use limiter_core::RateLimit;
use std::borrow::Cow;

/// How an entry takes part in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// Application limits, and defaults when nothing overrides them.
    Always,
    /// Route and router limits.
    Decorated,
    /// Defaults that apply only when every decorated limit is method-exempt for the request.
    DefaultFallback,
}

/// One declared limit, resolved for one route: its bucket and its precomputed 429 body.
pub(crate) struct Entry {
    pub(crate) limit: Limit,
    pub(crate) source: LimitSource,
    pub(crate) kind: EntryKind,
    /// The bucket without the per-method suffix.
    pub(crate) scope: Box<str>,
    /// The buckets of the route's methods, for per-method limits.
    pub(crate) method_scopes: Vec<(Method, Box<str>)>,
    /// The 429 body of each static limit (same order as `limit.rate_limits()`).
    pub(crate) bodies: Vec<Bytes>,
}

impl Entry {
    /// `limit` as declared for the route `endpoint`, which serves `methods`.
    pub(crate) fn new(
        limit: Limit,
        source: LimitSource,
        kind: EntryKind,
        endpoint: &str,
        methods: &[Method],
    ) -> Self {
        let scope: Box<str> = match (&limit.scope, limit.shared) {
            (Some(scope), true) => scope.as_ref().into(),
            (Some(scope), false) => format!("{endpoint}:{scope}").into(),
            (None, _) => endpoint.into(),
        };
        let method_scopes = if limit.per_method {
            methods
                .iter()
                .map(|m| (m.clone(), format!("{scope}:{}", m.as_str()).into()))
                .collect()
        } else {
            Vec::new()
        };
        let bodies = limit
            .rate_limits()
            .iter()
            .map(|rate| too_many_requests_body(limit.error_message.as_deref(), rate))
            .collect();
        Entry {
            limit,
            source,
            kind,
            scope,
            method_scopes,
            bodies,
        }
    }

    /// Whether the limit counts requests of `method` (its `methods` filter).
    pub(crate) fn applies_to(&self, method: &Method) -> bool {
        match &self.limit.methods {
            None => true,
            Some(methods) => methods.contains(method),
        }
    }

    /// The bucket of a request of `method`.
    pub(crate) fn scope_for(&self, method: &Method) -> Cow<'_, str> {
        if !self.limit.per_method {
            return Cow::Borrowed(&self.scope);
        }
        match self.method_scopes.iter().find(|(m, _)| m == method) {
            Some((_, scope)) => Cow::Borrowed(scope),
            None => Cow::Owned(format!("{}:{}", self.scope, method.as_str())),
        }
    }

    /// The precomputed 429 body of `rate`, one of the limit's static values.
    pub(crate) fn body_for(&self, rate: &RateLimit) -> Option<Bytes> {
        match &self.limit.provider {
            Provider::Static { limits, .. } => limits
                .iter()
                .position(|r| r == rate)
                .and_then(|i| self.bodies.get(i).cloned()),
            _ => None,
        }
    }
}
