//! Resolution of a route's limits (as Flask-Limiter's limit resolution does), once, when the router is given to the
//! limiter.

use crate::check::{Entry, EntryKind, HandlerCell, ResolvedRoute};
use crate::core::Core;
use crate::decl::Limit;
use crate::error::BuildError;
use crate::exemption::ExemptionScope;
use crate::limiter::Limiter;
use crate::registry::{limit_infos, LimitInfo, LimitSource, RouteInfo};
use axum::http::Method;
use std::sync::Arc;

/// A named router (blueprint) a route is nested in.
pub(crate) struct Blueprint {
    pub(crate) name: String,
    pub(crate) limits: Vec<Limit>,
    pub(crate) exemption: ExemptionScope,
}

/// One handler at one path, as recorded by the router.
pub(crate) struct RouteRecord {
    pub(crate) path: String,
    pub(crate) name: String,
    pub(crate) methods: Vec<Method>,
    /// Blueprints from the outermost to the innermost.
    pub(crate) ancestry: Vec<Arc<Blueprint>>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) exempt: Option<ExemptionScope>,
    /// Only the application limits apply (unless `exempt` drops them too): the automatic
    /// OPTIONS answer of a route with limits of its own, which Flask-Limiter counts in
    /// `before_request` only, where a decorated route takes neither its blueprint's limits nor
    /// the defaults. Implies a [`DEFAULT`](ExemptionScope::DEFAULT) exemption (see `Flags::of`).
    pub(crate) application_only: bool,
    /// `None` for an explicit opt-out ([`Router::route_unlimited`](crate::Router::route_unlimited)).
    pub(crate) cell: Option<Arc<HandlerCell>>,
}

impl RouteRecord {
    /// A route at `path`, named after it, with no limits or exemption of its own: checked with
    /// `cell` (default, application and meta limits), or served without the limiter (an opt-out
    /// line of the registry) when `cell` is `None`.
    pub(crate) fn plain(path: String, cell: Option<Arc<HandlerCell>>) -> Self {
        RouteRecord {
            name: path.clone(),
            path,
            methods: Vec::new(),
            ancestry: Vec::new(),
            limits: Vec::new(),
            exempt: None,
            application_only: false,
            cell,
        }
    }
}

fn check(place: impl Fn() -> String, limits: &[Limit]) -> Result<(), BuildError> {
    for limit in limits {
        if let Some(error) = limit.error() {
            return Err(BuildError::InvalidLimit {
                place: place(),
                error: error.clone(),
            });
        }
    }
    Ok(())
}

/// Resolves `route`'s limits against `limiter`: fills in the route's [`HandlerCell`] and
/// returns what the registry records of it.
pub(crate) fn resolve(limiter: &Limiter, route: &RouteRecord) -> Result<RouteInfo, BuildError> {
    let core = &limiter.core;
    let blueprint_path: Vec<&str> = route.ancestry.iter().map(|b| b.name.as_str()).collect();
    let group = (!blueprint_path.is_empty()).then(|| blueprint_path.join("."));
    let endpoint = match &group {
        Some(group) => format!("{group}.{}", route.name),
        None => route.name.clone(),
    };
    check(
        || format!("route '{endpoint}' ({})", route.path),
        &route.limits,
    )?;
    for blueprint in &route.ancestry {
        check(|| format!("router '{}'", blueprint.name), &blueprint.limits)?;
    }
    let storage = core.primary.storage();
    crate::capacity::check(storage, &format!("route '{endpoint}'"), &route.limits)?;
    for blueprint in &route.ancestry {
        let place = format!("router '{}'", blueprint.name);
        crate::capacity::check(storage, &place, &blueprint.limits)?;
    }
    let mut info = RouteInfo::new(&route.name, group, &route.path, Vec::<String>::new());
    info.opt_out = true;
    let Some(cell) = &route.cell else {
        return Ok(info);
    };

    let flags = Flags::of(route);
    let exemption = flags.exemption();
    let limits = Applicable::of(route, &flags);
    let (entries, infos) = entries(core, route, &info.endpoint, &limits, exemption);
    let fallback_entries = fallback_entries(core, route, &info.endpoint);
    let exempt = entries.is_empty() && !exemption.is_empty();
    let _ = cell.resolved.set(Arc::new(ResolvedRoute::new(
        core.clone(),
        info.endpoint.clone(),
        entries,
        fallback_entries,
        !exemption.contains(ExemptionScope::META),
    )));
    info.methods = route
        .methods
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    info.limits = infos;
    info.exemption = exemption;
    info.exempt = exempt;
    info.opt_out = false;
    Ok(info)
}

/// A route's exemption flags: its own and those its blueprints pass down.
struct Flags {
    /// The innermost blueprint's effective flags: its own plus those of ancestors exempted with
    /// `DESCENDENTS`.
    leaf: ExemptionScope,
    /// The route's own flags.
    route: ExemptionScope,
}

impl Flags {
    fn of(route: &RouteRecord) -> Self {
        let mut inherited = ExemptionScope::NONE;
        let mut leaf = ExemptionScope::NONE;
        for blueprint in &route.ancestry {
            leaf = blueprint.exemption.union(inherited);
            if blueprint.exemption.contains(ExemptionScope::DESCENDENTS) {
                inherited = inherited.union(blueprint.exemption);
            }
        }
        let mut own = route.exempt.unwrap_or_default();
        if route.application_only {
            own = own.union(ExemptionScope::DEFAULT);
        }
        Flags { leaf, route: own }
    }

    /// The route's effective exemption.
    fn exemption(&self) -> ExemptionScope {
        self.route
            .union(self.leaf.difference(ExemptionScope::ANCESTORS))
    }
}

/// The route and blueprint limits that apply to a route, before defaults and application
/// limits.
struct Applicable<'r> {
    /// Decorated (route) limits: discarded by any route-level exemption (Flask-Limiter quirk).
    decorated: Vec<&'r Limit>,
    /// Blueprint limits, treated as decorated when deciding whether defaults apply.
    blueprint: Vec<&'r Limit>,
}

impl<'r> Applicable<'r> {
    fn of(route: &'r RouteRecord, flags: &Flags) -> Self {
        if route.application_only {
            return Applicable {
                decorated: Vec::new(),
                blueprint: Vec::new(),
            };
        }
        let decorated: Vec<&Limit> = if flags.route.is_empty() {
            route.limits.iter().collect()
        } else {
            Vec::new()
        };
        let takes_blueprint =
            decorated.is_empty() || decorated.iter().all(|l| !l.override_defaults);
        let blueprint = if takes_blueprint {
            blueprint_limits(route)
        } else {
            Vec::new()
        };
        Applicable {
            decorated,
            blueprint,
        }
    }

    /// How the limiter's defaults take part: not at all (`None`), always, or only for methods
    /// that every decorated limit exempts.
    fn defaults_kind(&self, exemption: ExemptionScope) -> Option<EntryKind> {
        let mut all = self.decorated.iter().chain(self.blueprint.iter());
        if exemption.contains(ExemptionScope::DEFAULT) {
            None
        } else if all.clone().all(|l| !l.override_defaults) {
            Some(EntryKind::Always)
        } else if all.any(|l| l.methods.is_none() && l.override_defaults) {
            None
        } else {
            // Defaults apply only to methods for which every decorated limit is method-exempt.
            Some(EntryKind::DefaultFallback)
        }
    }
}

/// The limits a route inherits from its blueprints: the innermost's own, or every ancestor's
/// not cut off by an exemption.
fn blueprint_limits(route: &RouteRecord) -> Vec<&Limit> {
    let mut limits = Vec::new();
    let Some(leaf) = route.ancestry.last() else {
        return limits;
    };
    // Only the innermost blueprint's own flags decide (as in Flask-Limiter's resolution): flags an
    // ancestor passes down with DESCENDENTS exempt the nested routes from the defaults and the
    // application limits, not from the nested blueprint's own limits. A route's own exemption
    // never drops its blueprint's limits either: it drops the route's decorated limits only.
    let self_ex = leaf.exemption.difference(ExemptionScope::ANCESTORS);
    if self_ex.intersects(ExemptionScope::META.union(ExemptionScope::DESCENDENTS)) {
        return limits;
    }
    let own_override = !leaf.limits.is_empty() && leaf.limits.iter().all(|l| l.override_defaults);
    if own_override || leaf.exemption.contains(ExemptionScope::ANCESTORS) {
        limits.extend(leaf.limits.iter());
        return limits;
    }
    let last = route.ancestry.len() - 1;
    for (index, blueprint) in route.ancestry.iter().enumerate() {
        if index < last && blueprint.exemption.contains(ExemptionScope::DESCENDENTS) {
            continue;
        }
        // An ancestor above a router exempted with ANCESTORS is not inherited.
        let cut = route.ancestry[index + 1..=last]
            .iter()
            .any(|b| b.exemption.contains(ExemptionScope::ANCESTORS));
        if index < last && cut {
            continue;
        }
        limits.extend(blueprint.limits.iter());
    }
    limits
}

/// The route's entries (application, default, route, blueprint limits, in that order) and the
/// registry's lines for them (without application limits, which the configuration lists).
fn entries(
    core: &Core,
    route: &RouteRecord,
    endpoint: &str,
    limits: &Applicable<'_>,
    exemption: ExemptionScope,
) -> (Vec<Entry>, Vec<LimitInfo>) {
    let mut entries = Vec::new();
    let mut infos = Vec::new();
    let mut push = |limit: &Limit, source: LimitSource, kind: EntryKind| {
        let entry = Entry::new(limit.clone(), source, kind, endpoint, &route.methods);
        if source != LimitSource::Application {
            infos.extend(limit_infos(&entry, &route.methods));
        }
        entries.push(entry);
    };
    if !exemption.contains(ExemptionScope::APPLICATION) {
        for limit in &core.application_limits {
            push(limit, LimitSource::Application, EntryKind::Always);
        }
    }
    if let Some(kind) = limits.defaults_kind(exemption) {
        for limit in &core.default_limits {
            push(limit, LimitSource::Default, kind);
        }
    }
    for limit in &limits.decorated {
        push(limit, LimitSource::Route, EntryKind::Decorated);
    }
    for limit in &limits.blueprint {
        push(limit, LimitSource::Blueprint, EntryKind::Decorated);
    }
    (entries, infos)
}

/// The in-memory fallback limits as entries of the route: one counter per route, cost 1.
fn fallback_entries(core: &Core, route: &RouteRecord, endpoint: &str) -> Vec<Entry> {
    core.fallback_limits
        .iter()
        .map(|limit| {
            let mut limit = limit.clone();
            limit.per_method = false;
            limit.fixed_cost = 1;
            limit.cost = None;
            Entry::new(
                limit,
                LimitSource::Fallback,
                EntryKind::Always,
                endpoint,
                &route.methods,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::routing::get;
    use crate::{get_remote_address, ExemptionScope, Limiter, Router};

    async fn handler() -> &'static str {
        "ok"
    }

    /// Each route's endpoint and resolved limits (without application limits), by path.
    async fn resolved(router: Router<()>) -> Vec<(String, Vec<String>)> {
        let limiter = Limiter::new(get_remote_address)
            .default_limits(["10 per minute"])
            .application_limits(["20 per minute"])
            .storage_uri("memory://")
            // The registration tests declare a handler that no router routes.
            .unrouted_handlers(crate::UnroutedHandlers::Allow)
            .build()
            .await
            .unwrap();
        let _app = router.with_limiter(&limiter).unwrap();
        limiter
            .routes()
            .iter()
            .map(|r| {
                let limits = r.limits.iter().map(|l| l.limit.clone()).collect();
                (r.path.clone(), limits)
            })
            .collect()
    }

    fn owned(routes: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        routes
            .iter()
            .map(|(path, limits)| {
                let limits = limits.iter().map(|l| (*l).to_owned()).collect();
                ((*path).to_owned(), limits)
            })
            .collect()
    }

    #[tokio::test]
    async fn an_exempt_route_keeps_its_blueprints_limits_not_its_own() {
        let blueprint = Router::named("bp")
            .limit("2 per minute")
            .route("/exempt", get(handler).exempt())
            .route(
                "/app_exempt",
                get(handler)
                    .exempt_with(ExemptionScope::APPLICATION)
                    .limit("1 per hour"),
            );
        let routes = resolved(Router::new().nest("/bp", blueprint)).await;
        assert_eq!(
            routes,
            owned(&[
                ("/bp/app_exempt", &["2 per 1 minute"]),
                ("/bp/exempt", &["2 per 1 minute"]),
            ])
        );
    }

    #[tokio::test]
    async fn a_descendents_exemption_keeps_the_nested_blueprints_own_limits() {
        let below = Router::named("below")
            .limit("2 per minute")
            .route("/b", get(handler));
        let quiet = Router::named("quiet")
            .limit("1 per hour")
            .exempt_with(
                ExemptionScope::DEFAULT | ExemptionScope::APPLICATION | ExemptionScope::DESCENDENTS,
            )
            .route("/q", get(handler))
            .nest("/below", below);
        let routes = resolved(Router::new().nest("/quiet", quiet)).await;
        // `quiet`'s own routes: no blueprint limits (DESCENDENTS on the blueprint itself);
        // `below`'s: its own limit, not the ancestor's, and no defaults.
        assert_eq!(
            routes,
            owned(&[("/quiet/below/b", &["2 per 1 minute"]), ("/quiet/q", &[])])
        );
    }
}
