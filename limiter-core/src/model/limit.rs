//! [`LimitInfo`]: one limit as an app counts it, and [`LimitSource`]: where it was declared.

use crate::notation::{ParseError, RateLimit};
use std::fmt;

/// Where a limit was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "manifest",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum LimitSource {
    /// The limiter's default limits.
    Default,
    /// A limit on the route itself (`#[limit]`, `get(h).limit(…)`).
    Route,
    /// A router (blueprint) limit, own or inherited.
    Blueprint,
    /// The limiter's application limits (shared `global` counter).
    Application,
    /// A meta limit (limits breaches, shared `meta` counter).
    Meta,
    /// An in-memory fallback limit (only while the storage is down).
    Fallback,
}

impl LimitSource {
    /// `default`, `route`, `blueprint`, `application`, `meta` or `fallback` (the manifest's
    /// spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            LimitSource::Default => "default",
            LimitSource::Route => "route",
            LimitSource::Blueprint => "blueprint",
            LimitSource::Application => "application",
            LimitSource::Meta => "meta",
            LimitSource::Fallback => "fallback",
        }
    }
}

impl fmt::Display for LimitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One resolved limit, one line of `limiter limits`: its canonical string, where it comes from,
/// its options, and the parts of its storage key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "manifest", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct LimitInfo {
    /// The canonical string (`"2 per 1 minute"`), or a description (`"<dynamic>"`) for a limit
    /// computed per request.
    pub limit: String,
    /// Where it was declared.
    pub source: LimitSource,
    /// The bucket in the storage key: the endpoint, `endpoint:scope`, a shared scope, `global`
    /// (application limits) or `meta`, without any `:METHOD` suffix.
    pub scope: String,
    /// For per-method limits, the one method this entry is for (`… (GET)`): the key's bucket is
    /// `scope:METHOD`, and the limit is listed once per method of the route.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub method: Option<String>,
    /// `methods = [...]`: the only methods limited (`None`: all).
    #[cfg_attr(feature = "manifest", serde(default))]
    pub methods: Option<Vec<String>>,
    /// Whether the counter is shared by every route with this scope.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub shared: bool,
    /// Whether each method has its own counter.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub per_method: bool,
    /// Whether the limit replaces the defaults.
    #[cfg_attr(feature = "manifest", serde(default = "yes"))]
    pub override_defaults: bool,
    /// The cost of one request, `None` when computed per request.
    #[cfg_attr(feature = "manifest", serde(default = "one"))]
    pub cost: Option<u64>,
    /// Whether the limit itself is computed per request (then [`limit`](Self::limit) is only a
    /// description, and its counter cannot be named before a request).
    #[cfg_attr(feature = "manifest", serde(default))]
    pub dynamic: bool,
    /// The display name of the `deduct_when` predicate, if one is set.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub deduct_when: Option<String>,
    /// The display name of the `exempt_when` predicate, if one is set.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub exempt_when: Option<String>,
    /// For defaults: `true` when they apply only to the methods that every route limit exempts.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub conditional: bool,
    /// Whether the app puts the key prefix in this limit's keys. Meta limits are counted
    /// **without** it, as Flask-Limiter does; the CLI follows this flag, so it reads the keys the
    /// app really writes.
    #[cfg_attr(feature = "manifest", serde(default = "yes"))]
    pub uses_key_prefix: bool,
    /// Whether the limit is in shadow mode (dry run): counted and logged, never refusing.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub shadow: bool,
    /// Whether the limit is charged the cost the response carries, after it.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub cost_from_response: bool,
}

#[cfg(feature = "manifest")]
fn one() -> Option<u64> {
    Some(1)
}

#[cfg(feature = "manifest")]
fn yes() -> bool {
    true
}

impl LimitInfo {
    /// A fixed limit of cost 1 on every method, not per method, without predicates — shared and
    /// counted without the key prefix for [`LimitSource::Meta`], shared for
    /// [`LimitSource::Application`].
    pub fn new(limit: &RateLimit, source: LimitSource, scope: impl Into<String>) -> Self {
        let meta = source == LimitSource::Meta;
        LimitInfo {
            limit: limit.to_string(),
            source,
            scope: scope.into(),
            method: None,
            methods: None,
            shared: meta || source == LimitSource::Application,
            per_method: false,
            override_defaults: true,
            cost: Some(1),
            dynamic: false,
            deduct_when: None,
            exempt_when: None,
            conditional: false,
            uses_key_prefix: !meta,
            shadow: false,
            cost_from_response: false,
        }
    }

    /// A limit computed per request, known before a request only by its `description`.
    pub fn dynamic(
        description: impl Into<String>,
        source: LimitSource,
        scope: impl Into<String>,
    ) -> Self {
        let placeholder = RateLimit::new(0, 1, crate::Granularity::Second);
        let mut info = LimitInfo::new(&placeholder, source, scope);
        info.limit = description.into();
        info.dynamic = true;
        info
    }

    /// The parsed limit. Fails for a [dynamic](Self::dynamic) limit's description.
    pub fn rate_limit(&self) -> Result<RateLimit, ParseError> {
        self.limit.parse()
    }

    /// The bucket of the storage key: [`scope`](Self::scope), or `scope:METHOD` for a
    /// per-method entry.
    pub fn bucket(&self) -> String {
        match &self.method {
            Some(method) => format!("{}:{method}", self.scope),
            None => self.scope.clone(),
        }
    }

    /// The identifiers of this limit's storage key for one client:
    /// `[key_prefix, client_key, bucket]`, the prefix left out when it is empty or the limit
    /// does not use it. Pass them to [`RateLimit::key_for`] or the
    /// [`RateLimiter`](crate::RateLimiter) methods.
    pub fn identifiers(&self, key_prefix: &str, client_key: &str) -> Vec<String> {
        let mut ids = Vec::with_capacity(3);
        if self.uses_key_prefix && !key_prefix.is_empty() {
            ids.push(key_prefix.to_owned());
        }
        ids.push(client_key.to_owned());
        ids.push(self.bucket());
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(limit: &LimitInfo, prefix: &str, client: &str) -> String {
        let ids = limit.identifiers(prefix, client);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        limit.rate_limit().unwrap().key_for(&ids)
    }

    fn limit(text: &str, source: LimitSource, scope: &str) -> LimitInfo {
        LimitInfo::new(&text.parse().unwrap(), source, scope)
    }

    /// Every Flask-Limiter key shape that concerns the key's identifiers (the sliding-window
    /// suffix and Redis' `LIMITS:` are the storages' business).
    #[test]
    fn keys_match_flask_limiter() {
        let default = limit("50 per hour", LimitSource::Default, "fast");
        assert_eq!(
            key(&default, "", "127.0.0.1"),
            "LIMITER/127.0.0.1/fast/50/1/hour"
        );
        let slow = limit("1 per day", LimitSource::Route, "slow");
        assert_eq!(
            key(&slow, "", "127.0.0.1"),
            "LIMITER/127.0.0.1/slow/1/1/day"
        );
        let global = limit("1000 per day", LimitSource::Application, "global");
        assert_eq!(
            key(&global, "", "127.0.0.1"),
            "LIMITER/127.0.0.1/global/1000/1/day"
        );
        for method in ["GET", "POST"] {
            let mut pm = limit("3 per minute", LimitSource::Route, "pm");
            pm.method = Some(method.to_owned());
            assert_eq!(
                key(&pm, "", "127.0.0.1"),
                format!("LIMITER/127.0.0.1/pm:{method}/3/1/minute")
            );
        }
        let mut shared = limit("5 per minute", LimitSource::Route, "grp");
        shared.shared = true;
        assert_eq!(
            key(&shared, "", "127.0.0.1"),
            "LIMITER/127.0.0.1/grp/5/1/minute"
        );
        let scoped = limit("1 per minute", LimitSource::Route, "r4:sc-r4");
        assert_eq!(key(&scoped, "", "k"), "LIMITER/k/r4:sc-r4/1/1/minute");
        let blueprint = limit("7 per minute", LimitSource::Blueprint, "bp.child.childb");
        assert_eq!(
            key(&blueprint, "", "127.0.0.1"),
            "LIMITER/127.0.0.1/bp.child.childb/7/1/minute"
        );
        let meta = limit("2 per hour", LimitSource::Meta, "meta");
        assert!(!meta.uses_key_prefix);
        assert_eq!(
            key(&meta, "", "127.0.0.1"),
            "LIMITER/127.0.0.1/meta/2/1/hour"
        );
        assert_eq!(
            key(&meta, "pfx", "127.0.0.1"),
            "LIMITER/127.0.0.1/meta/2/1/hour",
            "meta limits are counted without the key prefix"
        );
        let prefixed = limit("2 per minute", LimitSource::Route, "a");
        assert_eq!(key(&prefixed, "pfx", "k1"), "LIMITER/pfx/k1/a/2/1/minute");
        // The prefix also applies to application, default and per-method limits.
        assert_eq!(
            key(&global, "pfx", "k1"),
            "LIMITER/pfx/k1/global/1000/1/day"
        );
        let mut pm = limit("3 per minute", LimitSource::Route, "pm");
        pm.method = Some("GET".to_owned());
        assert_eq!(key(&pm, "pfx", "k1"), "LIMITER/pfx/k1/pm:GET/3/1/minute");
    }

    #[test]
    fn dynamic_limits_have_no_rate() {
        let info = LimitInfo::dynamic("<dynamic>", LimitSource::Route, "e");
        assert!(info.dynamic);
        assert_eq!(info.limit, "<dynamic>");
        assert!(info.rate_limit().is_err());
    }

    #[test]
    fn sources_are_named_as_in_the_manifest() {
        assert_eq!(LimitSource::Application.to_string(), "application");
        assert_eq!(LimitSource::Meta.as_str(), "meta");
    }
}
