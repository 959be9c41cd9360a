//! The **manifest**: how a compiled app describes its routes, limits and limiter configuration
//! to the `limiter` command-line tool.
//!
//! Flask's CLI imports the app; a compiled binary cannot be imported. Instead, an app started
//! with the environment variable `LIMITER_INSPECT=manifest` ([`INSPECT_ENV`] =
//! [`INSPECT_VALUE`]) prints one [`Manifest`] as JSON on stdout and exits with status 0
//! **without binding a port**. Without that variable nothing changes: production behaviour is
//! untouched. `limiter --app ./target/debug/myapp limits` runs the binary that way; a saved
//! manifest can be read with `limiter --manifest app.json limits`.
//!
//! # Format (version 1)
//!
//! ```json
//! {
//!   "version": 1,
//!   "app": "app",
//!   "config": {
//!     "enabled": true, "strategy": "fixed-window", "storage_uri": "redis://localhost:6379",
//!     "key_prefix": "", "key_function": "get_remote_address",
//!     "headers_enabled": false,
//!     "header_names": { "limit": "X-RateLimit-Limit", "remaining": "X-RateLimit-Remaining",
//!                       "reset": "X-RateLimit-Reset", "retry_after": "Retry-After" },
//!     "retry_after": "delta-seconds", "fail_on_first_breach": true,
//!     "on_storage_error": "fail-closed",
//!     "default_limits": [], "application_limits": [], "meta_limits": [], "in_memory_fallback": []
//!   },
//!   "routes": [
//!     { "endpoint": "fast", "group": "app", "path": "/fast", "methods": ["GET", "HEAD"],
//!       "exempt": false,
//!       "limits": [ { "limit": "2 per 1 minute", "source": "route", "scope": "fast" } ] }
//!   ]
//! }
//! ```
//!
//! * Readers ignore unknown fields, and most fields have defaults (those of Flask-Limiter), so
//!   fields can be added within version 1. A change that alters the meaning of an existing
//!   field bumps [`MANIFEST_VERSION`]; readers reject versions they do not know.
//! * Routes list, per handler and path, the **resolved** default, route and blueprint limits in
//!   resolution order (defaults first), with per-method limits expanded once per method of the
//!   route ([`ManifestLimit::method`]). Application and meta limits are listed once, in
//!   [`ManifestConfig`].
//! * Each limit carries everything needed to rebuild its storage key
//!   ([`ManifestLimit::identifiers`]), so the CLI reads and clears exactly the counters the app
//!   writes.
//!
//! ```
//! use limiter_core::manifest::{LimitSource, Manifest, ManifestConfig, ManifestLimit, ManifestRoute};
//!
//! let limit: limiter_core::RateLimit = "2 per minute".parse()?;
//! let mut route = ManifestRoute::new("fast", "app", "/fast", ["GET", "HEAD"]);
//! route.limits.push(ManifestLimit::new(&limit, LimitSource::Route, "fast"));
//! let mut config = ManifestConfig::default();
//! config.key_prefix = "pfx".into();
//! let manifest = Manifest::new("app", config, vec![route]);
//!
//! let json = manifest.to_json();
//! let read = Manifest::from_json(&json)?;
//! assert_eq!(read, manifest);
//!
//! // The key the app writes for client 127.0.0.1 on /fast:
//! let fast = &read.routes[0].limits[0];
//! let ids = fast.identifiers(&read.config.key_prefix, "127.0.0.1");
//! let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
//! assert_eq!(fast.rate_limit()?.key_for(&ids), "LIMITER/pfx/127.0.0.1/fast/2/1/minute");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::notation::{ParseError, RateLimit};
use serde::{Deserialize, Serialize};

/// The manifest version this crate writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The environment variable that asks an app binary to print its manifest and exit.
pub const INSPECT_ENV: &str = "LIMITER_INSPECT";

/// The value of [`INSPECT_ENV`] that asks for the manifest.
pub const INSPECT_VALUE: &str = "manifest";

/// Whether this process was started to print its manifest (`LIMITER_INSPECT=manifest`).
///
/// An app checks this before binding its port: when it is `true`, it prints
/// [`Manifest::to_json`] on stdout and exits with status 0.
pub fn inspect_requested() -> bool {
    std::env::var_os(INSPECT_ENV).is_some_and(|value| value == INSPECT_VALUE)
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The text is not a JSON manifest.
    #[error("invalid manifest JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The manifest was written for a format this reader does not know.
    #[error("unsupported manifest version {found}: this limiter reads version {supported}")]
    UnsupportedVersion {
        /// The manifest's `version`.
        found: u32,
        /// [`MANIFEST_VERSION`].
        supported: u32,
    },
}

/// Everything the `limiter` CLI knows about an app: its configuration and its routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The format version, [`MANIFEST_VERSION`].
    pub version: u32,
    /// The group label of the application's own routes (Flask's `app.name`; usually `"app"`).
    pub app: String,
    /// The limiter's configuration.
    pub config: ManifestConfig,
    /// Every route (handler and path), with its resolved limits.
    #[serde(default)]
    pub routes: Vec<ManifestRoute>,
}

impl Manifest {
    /// A version-[`MANIFEST_VERSION`] manifest.
    pub fn new(app: impl Into<String>, config: ManifestConfig, routes: Vec<ManifestRoute>) -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            app: app.into(),
            config,
            routes,
        }
    }

    /// Reads a manifest, rejecting versions other than [`MANIFEST_VERSION`].
    pub fn from_json(text: &str) -> Result<Manifest, ManifestError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        // Check the version first, so that a future format gives a version error rather than
        // whatever field error it would cause.
        let Version { version } = serde_json::from_str(text)?;
        if version != MANIFEST_VERSION {
            return Err(ManifestError::UnsupportedVersion {
                found: version,
                supported: MANIFEST_VERSION,
            });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// The manifest as pretty-printed JSON (what an app prints for `LIMITER_INSPECT=manifest`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serialises")
    }
}

/// The limiter's configuration, as `limiter config` prints it.
///
/// [`Default`] gives Flask-Limiter's defaults (fixed window, `memory://`, no limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ManifestConfig {
    /// `RATELIMIT_ENABLED`.
    pub enabled: bool,
    /// The strategy's name: `fixed-window`, `moving-window` or `sliding-window-counter`.
    pub strategy: String,
    /// The storage URI **as configured**, password included: the CLI connects with it and masks
    /// the password whenever it prints it.
    pub storage_uri: String,
    /// `RATELIMIT_KEY_PREFIX` (`""` for none).
    pub key_prefix: String,
    /// A display name of the key function (`get_remote_address`).
    pub key_function: String,
    /// `RATELIMIT_HEADERS_ENABLED`.
    pub headers_enabled: bool,
    /// The rate-limit header names.
    pub header_names: HeaderNames,
    /// `RATELIMIT_HEADER_RETRY_AFTER_VALUE`: `delta-seconds` or `http-date`.
    pub retry_after: String,
    /// `RATELIMIT_FAIL_ON_FIRST_BREACH`.
    pub fail_on_first_breach: bool,
    /// What happens when the storage fails: `fail-closed` (optionally with the status, e.g.
    /// `fail-closed (503)`), `fail-open` or `in-memory-fallback`.
    pub on_storage_error: String,
    /// `RATELIMIT_DEFAULT`, canonical strings (each route lists the defaults it resolves to).
    pub default_limits: Vec<String>,
    /// `RATELIMIT_APPLICATION`: shared limits on every route, scope `global`.
    pub application_limits: Vec<ManifestLimit>,
    /// `RATELIMIT_META`: limits on breaches, scope `meta`.
    pub meta_limits: Vec<ManifestLimit>,
    /// `RATELIMIT_IN_MEMORY_FALLBACK`, canonical strings (only used while the storage is down).
    pub in_memory_fallback: Vec<String>,
}

impl Default for ManifestConfig {
    fn default() -> Self {
        ManifestConfig {
            enabled: true,
            strategy: crate::Strategy::FixedWindow.name().to_owned(),
            storage_uri: "memory://".to_owned(),
            key_prefix: String::new(),
            key_function: "get_remote_address".to_owned(),
            headers_enabled: false,
            header_names: HeaderNames::default(),
            retry_after: "delta-seconds".to_owned(),
            fail_on_first_breach: true,
            on_storage_error: "fail-closed".to_owned(),
            default_limits: Vec::new(),
            application_limits: Vec::new(),
            meta_limits: Vec::new(),
            in_memory_fallback: Vec::new(),
        }
    }
}

/// The names of the rate-limit response headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HeaderNames {
    /// `RATELIMIT_HEADER_LIMIT` (`X-RateLimit-Limit`).
    pub limit: String,
    /// `RATELIMIT_HEADER_REMAINING` (`X-RateLimit-Remaining`).
    pub remaining: String,
    /// `RATELIMIT_HEADER_RESET` (`X-RateLimit-Reset`).
    pub reset: String,
    /// `RATELIMIT_HEADER_RETRY_AFTER` (`Retry-After`).
    pub retry_after: String,
}

impl Default for HeaderNames {
    fn default() -> Self {
        HeaderNames {
            limit: "X-RateLimit-Limit".to_owned(),
            remaining: "X-RateLimit-Remaining".to_owned(),
            reset: "X-RateLimit-Reset".to_owned(),
            retry_after: "Retry-After".to_owned(),
        }
    }
}

/// One handler at one path, with its resolved limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestRoute {
    /// The endpoint: the handler's name prefixed by its blueprints (`bp.child.childb`).
    pub endpoint: String,
    /// The dotted blueprint name (`bp.child`), or [`Manifest::app`] for the app's own routes.
    pub group: String,
    /// The path, in axum's syntax (`/users/{id}`, `/files/{*rest}`).
    pub path: String,
    /// The methods the handler serves, upper case (`GET` implies `HEAD`).
    #[serde(default)]
    pub methods: Vec<String>,
    /// The default, route and blueprint limits, in resolution order (without application
    /// limits); per-method limits once per method.
    #[serde(default)]
    pub limits: Vec<ManifestLimit>,
    /// `true` when the route is exempt (printed `Exempt` when it has no limits).
    #[serde(default)]
    pub exempt: bool,
}

impl ManifestRoute {
    /// A route without limits.
    pub fn new<M: Into<String>>(
        endpoint: impl Into<String>,
        group: impl Into<String>,
        path: impl Into<String>,
        methods: impl IntoIterator<Item = M>,
    ) -> Self {
        ManifestRoute {
            endpoint: endpoint.into(),
            group: group.into(),
            path: path.into(),
            methods: methods.into_iter().map(Into::into).collect(),
            limits: Vec::new(),
            exempt: false,
        }
    }
}

/// Where a limit was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LimitSource {
    /// The limiter's default limits.
    Default,
    /// A limit on the route itself.
    Route,
    /// A blueprint (router) limit, own or inherited.
    Blueprint,
    /// An application limit (shared `global` scope).
    Application,
    /// A meta limit (limits breaches, shared `meta` scope).
    Meta,
    /// An in-memory fallback limit.
    Fallback,
}

fn one() -> Option<u64> {
    Some(1)
}

fn yes() -> bool {
    true
}

/// One limit as the app counts it: its canonical string and the parts of its storage key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestLimit {
    /// The canonical string (`"2 per 1 minute"`), or a description (`"<dynamic>"`) for a
    /// limit computed per request.
    pub limit: String,
    /// Where it was declared.
    pub source: LimitSource,
    /// The bucket in the storage key: the endpoint, `endpoint:scope`, a shared scope,
    /// `global` (application limits) or `meta` — without the `:METHOD` suffix.
    pub scope: String,
    /// For per-method limits, the method this entry is for: the key's bucket is
    /// `scope:METHOD`.
    #[serde(default)]
    pub method: Option<String>,
    /// Whether the counter is shared by every route with this scope.
    #[serde(default)]
    pub shared: bool,
    /// The cost of one request, `None` when computed per request (default `1`).
    #[serde(default = "one")]
    pub cost: Option<u64>,
    /// Whether the limit itself is computed per request (then [`limit`](Self::limit) is only a
    /// description, and the CLI cannot read or clear its counter).
    #[serde(default)]
    pub dynamic: bool,
    /// The display name of the `deduct_when` predicate, if any.
    #[serde(default)]
    pub deduct_when: Option<String>,
    /// The display name of the `exempt_when` predicate, if any.
    #[serde(default)]
    pub exempt_when: Option<String>,
    /// Whether the app puts the key prefix in this limit's keys (default `true`). Meta limits
    /// are counted **without** it, as Flask-Limiter does (§4.8), so an app sets `false` for
    /// them; the CLI follows this flag, so it reads the keys the app really writes (Python's
    /// CLI ignores the prefix altogether).
    #[serde(default = "yes")]
    pub uses_key_prefix: bool,
}

impl ManifestLimit {
    /// A fixed limit of cost 1, not shared, not per method, counted with the key prefix — except
    /// for [`LimitSource::Meta`], counted without it (and shared).
    pub fn new(limit: &RateLimit, source: LimitSource, scope: impl Into<String>) -> Self {
        let meta = source == LimitSource::Meta;
        ManifestLimit {
            limit: limit.to_string(),
            source,
            scope: scope.into(),
            method: None,
            shared: meta || source == LimitSource::Application,
            cost: Some(1),
            dynamic: false,
            deduct_when: None,
            exempt_when: None,
            uses_key_prefix: !meta,
        }
    }

    /// The bucket of the storage key: [`scope`](Self::scope), or `scope:METHOD` for a
    /// per-method limit.
    pub fn bucket(&self) -> String {
        match &self.method {
            Some(method) => format!("{}:{method}", self.scope),
            None => self.scope.clone(),
        }
    }

    /// The identifiers of this limit's storage key for one client:
    /// `[key_prefix, client_key, bucket]`, the prefix left out when it is empty or the limit
    /// does not use it (§4.8). Pass them to [`RateLimit::key_for`] or the
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

    /// The parsed limit. Fails for a [dynamic](Self::dynamic) limit's description.
    pub fn rate_limit(&self) -> Result<RateLimit, ParseError> {
        self.limit.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(limit: &ManifestLimit, prefix: &str, client: &str) -> String {
        let ids = limit.identifiers(prefix, client);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        limit.rate_limit().unwrap().key_for(&ids)
    }

    fn limit(text: &str, source: LimitSource, scope: &str) -> ManifestLimit {
        ManifestLimit::new(&text.parse().unwrap(), source, scope)
    }

    /// Every row of §4.8's table that concerns the key's identifiers (the sliding-window
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
    fn minimal_json_gets_defaults() {
        let manifest = Manifest::from_json(
            r#"{"version": 1, "app": "app", "config": {"storage_uri": "redis://h:1"},
                "routes": [{"endpoint": "e", "group": "app", "path": "/e",
                            "limits": [{"limit": "1 per 1 second", "source": "route",
                                        "scope": "e", "future_field": 1}]}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.config.strategy, "fixed-window");
        assert_eq!(manifest.config.storage_uri, "redis://h:1");
        assert_eq!(manifest.config.header_names.retry_after, "Retry-After");
        let limit = &manifest.routes[0].limits[0];
        assert_eq!(limit.cost, Some(1));
        assert!(limit.uses_key_prefix);
        assert_eq!(limit.method, None);
    }

    #[test]
    fn dynamic_cost_is_null() {
        let mut limit = limit("1 per second", LimitSource::Route, "e");
        limit.cost = None;
        let json = serde_json::to_string(&limit).unwrap();
        assert!(json.contains(r#""cost":null"#), "{json}");
        assert_eq!(serde_json::from_str::<ManifestLimit>(&json).unwrap(), limit);
    }

    #[test]
    fn other_versions_are_rejected() {
        let error = Manifest::from_json(r#"{"version": 2, "whatever": true}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported manifest version 2: this limiter reads version 1"
        );
        assert!(matches!(
            Manifest::from_json("not json"),
            Err(ManifestError::Json(_))
        ));
    }
}
