//! The registry: every route with its resolved limits, and the limiter's configuration, filled
//! into limiter-core's [model](limiter_core::model) — the public data of [`Limiter::routes`] and
//! [`Limiter::config`], and what the app's manifest prints for the `limiter` CLI.
//!
//! [`Limiter::routes`]: crate::Limiter::routes
//! [`Limiter::config`]: crate::Limiter::config

use crate::check::{Entry, EntryKind};
use crate::core::Core;
use crate::decl::Limit;
use crate::options::{FailureMode, RetryAfter};
use axum::http::Method;
use limiter_core::RateLimit;

pub use limiter_core::model::{ConfigInfo, LimitInfo, LimitSource, RouteInfo};

/// The description of a limit computed per request, in place of its canonical string.
const DYNAMIC: &str = "<dynamic>";

/// `limit` as one line of the registry, for one of its rates (`None`: a dynamic limit).
fn limit_info(
    limit: &Limit,
    rate: Option<&RateLimit>,
    source: LimitSource,
    scope: &str,
) -> LimitInfo {
    let mut info = match rate {
        Some(rate) => LimitInfo::new(rate, source, scope),
        None => LimitInfo::dynamic(DYNAMIC, source, scope),
    };
    info.methods = limit
        .methods
        .as_ref()
        .map(|methods| methods.iter().map(|m| m.as_str().to_owned()).collect());
    info.shared = limit.shared;
    info.per_method = limit.per_method;
    info.override_defaults = limit.override_defaults;
    info.cost = limit.cost.is_none().then_some(limit.fixed_cost);
    info.exempt_when = limit.exempt_when.as_ref().map(|_| "exempt_when".to_owned());
    info.deduct_when = limit.deduct_when.as_ref().map(|_| "deduct_when".to_owned());
    info.shadow = limit.shadow;
    info.cost_from_response = limit.cost_from_response;
    info
}

/// `limit`'s rates, or `[None]` for a dynamic limit.
fn rates(limit: &Limit) -> Vec<Option<&RateLimit>> {
    if limit.is_dynamic() {
        vec![None]
    } else {
        limit.rate_limits().iter().map(Some).collect()
    }
}

/// The registry lines of one resolved limit of a route: one per rate, and for a per-method
/// limit one per rate and method of the route.
pub(crate) fn limit_infos(entry: &Entry, route_methods: &[Method]) -> Vec<LimitInfo> {
    let limit = &entry.limit;
    let mut out = Vec::new();
    for rate in rates(limit) {
        let mut info = limit_info(limit, rate, entry.source, &entry.scope);
        info.conditional = entry.kind == EntryKind::DefaultFallback;
        if limit.per_method {
            for method in route_methods {
                let mut info = info.clone();
                info.method = Some(method.as_str().to_owned());
                out.push(info);
            }
        } else {
            out.push(info);
        }
    }
    out
}

/// Application or meta limits: shared by every route, in the scope `default_scope` unless they
/// name their own.
fn shared_limit_infos(
    limits: &[Limit],
    source: LimitSource,
    default_scope: &str,
) -> Vec<LimitInfo> {
    limits
        .iter()
        .flat_map(|limit| {
            let scope = limit.scope.as_deref().unwrap_or(default_scope);
            rates(limit)
                .into_iter()
                .map(move |rate| limit_info(limit, rate, source, scope))
        })
        .collect()
}

/// Canonical strings of `limits` (`<dynamic>` for a dynamic one).
fn limit_strings(limits: &[Limit]) -> Vec<String> {
    limits
        .iter()
        .flat_map(|limit| {
            rates(limit)
                .into_iter()
                .map(|rate| rate.map_or_else(|| DYNAMIC.to_owned(), ToString::to_string))
        })
        .collect()
}

/// The limiter's configuration.
pub(crate) fn config_info(core: &Core) -> ConfigInfo {
    let mut config = ConfigInfo::default();
    config.enabled = core.enabled;
    config.strategy = core.strategy.name().to_owned();
    if let limiter_core::Strategy::Gcra { burst } = core.strategy {
        config.gcra_burst = burst.map(std::num::NonZeroU64::get);
    }
    config.storage_uri = core.storage_uri.clone();
    config.storage_backend = core.primary.storage().backend_name().to_owned();
    config.key_prefix = core.key_prefix.clone();
    config.max_key_length = u64::try_from(core.max_key_length).unwrap_or(u64::MAX);
    config.key_func = core.key_func_name.clone();
    config.headers_enabled = core.headers_enabled;
    config.header_names = core.header_names.to_strings();
    config.retry_after = match core.retry_after {
        RetryAfter::DeltaSeconds => "delta-seconds",
        RetryAfter::HttpDate => "http-date",
    }
    .to_owned();
    config.header_style = core.header_style.name().to_owned();
    config.fail_on_first_breach = core.fail_on_first_breach;
    config.shadow_mode = core.shadow_mode;
    config.failure_mode = match (&core.fallback, core.failure_mode) {
        (Some(_), _) => "in-memory-fallback".to_owned(),
        (None, FailureMode::FailOpen) => "fail-open".to_owned(),
        (None, FailureMode::FailClosed(status)) => format!("fail-closed ({})", status.as_u16()),
    };
    config.default_limits = limit_strings(&core.default_limits);
    config.application_limits =
        shared_limit_infos(&core.application_limits, LimitSource::Application, "global");
    config.meta_limits = shared_limit_infos(&core.meta_limits, LimitSource::Meta, "meta");
    config.in_memory_fallback = limit_strings(&core.fallback_limits);
    config.on_breach = core.on_breach.is_some();
    config
}
