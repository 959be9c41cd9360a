//! The registry: every route with its resolved limits, and the limiter's configuration — the
//! stable, public data the `limiter` CLI serialises (`limiter limits`, `limiter config`).

use crate::core::Core;
use crate::options::{FailureMode, RetryAfter};
use crate::ExemptionScope;

/// Where a route's limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitSource {
    /// The limiter's default limits.
    Default,
    /// The limiter's application limits (shared `global` counter).
    Application,
    /// `#[limit]` or `get(h).limit(…)` on the route.
    Route,
    /// A router (blueprint) limit, own or inherited.
    Blueprint,
    /// An in-memory fallback limit (only while the storage is down).
    Fallback,
}

impl LimitSource {
    /// `default`, `application`, `route`, `blueprint` or `fallback`.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitSource::Default => "default",
            LimitSource::Application => "application",
            LimitSource::Route => "route",
            LimitSource::Blueprint => "blueprint",
            LimitSource::Fallback => "fallback",
        }
    }
}

/// One resolved limit of a route, one line of `limiter limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitInfo {
    /// The canonical string (`"2 per 1 minute"`), or the provider's description for dynamic
    /// limits (`"<dynamic>"`).
    pub limit: String,
    /// The parsed limit (`None` for dynamic limits).
    pub rate: Option<limiter_core::RateLimit>,
    /// Where it was declared.
    pub source: LimitSource,
    /// The bucket (`endpoint`, `endpoint:scope`, or the shared scope), before any `:METHOD`.
    pub scope: String,
    /// For per-method limits, the one method this line is for (`… (GET)`); the limit is
    /// expanded once per method of the route.
    pub method: Option<String>,
    /// `methods = [...]`: the only methods limited (`None`: all).
    pub methods: Option<Vec<String>>,
    /// Whether the counter is shared by every route with this scope.
    pub shared: bool,
    /// Whether each method has its own counter.
    pub per_method: bool,
    /// Whether the limit replaces the defaults.
    pub override_defaults: bool,
    /// The fixed cost, or `None` when computed per request.
    pub cost: Option<u64>,
    /// Whether an `exempt_when` predicate is set.
    pub exempt_when: bool,
    /// Whether a `deduct_when` predicate is set.
    pub deduct_when: bool,
    /// For defaults: `true` when they apply only to methods that every route limit exempts.
    pub conditional: bool,
}

/// One handler at one path, with its resolved limits (without application limits, which
/// [`ConfigInfo::application_limits`] lists once).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteInfo {
    /// The endpoint: the handler's name, prefixed by its blueprints (`"bp.child.handler"`).
    pub endpoint: String,
    /// The handler's own name.
    pub name: String,
    /// The dotted blueprint path (`"bp.child"`), `None` for routes of the application.
    pub blueprint: Option<String>,
    /// The full path (`"/bp/child/b"`), with axum's `{param}` syntax.
    pub path: String,
    /// The methods this handler serves (`GET` implies `HEAD`).
    pub methods: Vec<String>,
    /// The resolved default, route and blueprint limits, defaults first (per-method limits
    /// expanded once per method).
    pub limits: Vec<LimitInfo>,
    /// The route's effective exemption flags (its own and its blueprints').
    pub exemption: ExemptionScope,
    /// `true` when the route has no limits and is exempt: `limiter limits` prints `Exempt`.
    pub exempt: bool,
    /// `true` for a route added with [`Router::route_unlimited`](crate::Router::route_unlimited),
    /// which the limiter never checks.
    pub opt_out: bool,
}

/// The limiter's configuration, as `limiter config` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigInfo {
    /// `RATELIMIT_ENABLED`.
    pub enabled: bool,
    /// The key function's name (`get_remote_address`).
    pub key_func: String,
    /// `RATELIMIT_KEY_PREFIX`.
    pub key_prefix: String,
    /// `RATELIMIT_STRATEGY`: `fixed-window`, `moving-window` or `sliding-window-counter`.
    pub strategy: String,
    /// `RATELIMIT_STORAGE_URI` (`memory://` when unset).
    pub storage_uri: String,
    /// The storage backend's scheme name.
    pub storage_backend: String,
    /// `RATELIMIT_APPLICATION`, canonical strings.
    pub application_limits: Vec<String>,
    /// `RATELIMIT_DEFAULT`, canonical strings.
    pub default_limits: Vec<String>,
    /// `RATELIMIT_META`, canonical strings.
    pub meta_limits: Vec<String>,
    /// `RATELIMIT_HEADERS_ENABLED`.
    pub headers_enabled: bool,
    /// Header names: limit, remaining, reset, retry-after.
    pub header_names: [String; 4],
    /// `RATELIMIT_HEADER_RETRY_AFTER_VALUE`: `delta-seconds` or `http-date`.
    pub retry_after: String,
    /// `RATELIMIT_FAIL_ON_FIRST_BREACH`.
    pub fail_on_first_breach: bool,
    /// On storage errors: `fail-open`, or `fail-closed (<status>)`.
    pub failure_mode: String,
    /// Whether the in-memory fallback is enabled.
    pub in_memory_fallback: bool,
    /// Whether an `on_breach` callback is set.
    pub on_breach: bool,
}

fn strings(limits: &[crate::Limit]) -> Vec<String> {
    limits
        .iter()
        .flat_map(|l| {
            if l.is_dynamic() {
                vec!["<dynamic>".to_owned()]
            } else {
                l.rate_limits().iter().map(ToString::to_string).collect()
            }
        })
        .collect()
}

impl ConfigInfo {
    pub(crate) fn of(core: &Core) -> ConfigInfo {
        let names = &core.header_names;
        ConfigInfo {
            enabled: core.enabled,
            key_func: core.key_func_name.clone(),
            key_prefix: core.key_prefix.clone(),
            strategy: core.strategy.name().to_owned(),
            storage_uri: core.storage_uri.clone(),
            storage_backend: core.primary.storage().backend_name().to_owned(),
            application_limits: strings(&core.application_limits),
            default_limits: strings(&core.default_limits),
            meta_limits: strings(&core.meta_limits),
            headers_enabled: core.headers_enabled,
            header_names: [
                names.limit.as_str().to_owned(),
                names.remaining.as_str().to_owned(),
                names.reset.as_str().to_owned(),
                names.retry_after.as_str().to_owned(),
            ],
            retry_after: match core.retry_after {
                RetryAfter::DeltaSeconds => "delta-seconds".to_owned(),
                RetryAfter::HttpDate => "http-date".to_owned(),
            },
            fail_on_first_breach: core.fail_on_first_breach,
            failure_mode: match core.failure_mode {
                FailureMode::FailOpen => "fail-open".to_owned(),
                FailureMode::FailClosed(status) => format!("fail-closed ({})", status.as_u16()),
            },
            in_memory_fallback: core.fallback.is_some(),
            on_breach: core.on_breach.is_some(),
        }
    }
}
