//! Resolution of a route's limits (Flask-Limiter §4.6), once, when the router is given to the
//! limiter.

use crate::decl::{Limit, Provider};
use crate::limiter::{BuildError, Limiter};
use crate::registry::{limit_infos, LimitSource, RouteInfo};
use crate::service::{plan, Entry, EntryKind, HandlerCell, ResolvedRoute};
use crate::ExemptionScope;
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
    /// `None` for an explicit opt-out ([`Router::route_unlimited`](crate::Router::route_unlimited)).
    pub(crate) cell: Option<Arc<HandlerCell>>,
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
    let Some(cell) = &route.cell else {
        let mut info = RouteInfo::new(&route.name, group, &route.path, Vec::<String>::new());
        info.opt_out = true;
        return Ok(info);
    };

    // Effective blueprint exemption: own flags plus those of ancestors exempted with DESCENDENTS.
    let mut inherited = ExemptionScope::NONE;
    let mut effective = Vec::with_capacity(route.ancestry.len());
    for blueprint in &route.ancestry {
        let flags = blueprint.exemption.union(inherited);
        effective.push(flags);
        if blueprint.exemption.contains(ExemptionScope::DESCENDENTS) {
            inherited = inherited.union(blueprint.exemption);
        }
    }
    let leaf_flags = effective.last().copied().unwrap_or_default();
    let route_flags = route.exempt.unwrap_or_default();
    let exemption = route_flags.union(leaf_flags.difference(ExemptionScope::ANCESTORS));

    // Decorated (route) limits: discarded by any route-level exemption (Flask-Limiter quirk).
    let decorated: Vec<&Limit> = if route_flags.is_empty() {
        route.limits.iter().collect()
    } else {
        Vec::new()
    };

    // Blueprint limits, treated as decorated when deciding whether defaults apply.
    let mut blueprint_limits: Vec<&Limit> = Vec::new();
    let takes_blueprint = decorated.is_empty() || decorated.iter().all(|l| !l.override_defaults);
    if let (Some(leaf), true) = (route.ancestry.last(), takes_blueprint) {
        let self_ex = leaf_flags.difference(ExemptionScope::ANCESTORS);
        let route_skips = route_flags.contains(ExemptionScope::DEFAULT);
        if !self_ex.intersects(ExemptionScope::META.union(ExemptionScope::DESCENDENTS))
            && !route_skips
        {
            let own_override =
                !leaf.limits.is_empty() && leaf.limits.iter().all(|l| l.override_defaults);
            if own_override || leaf_flags.contains(ExemptionScope::ANCESTORS) {
                blueprint_limits.extend(leaf.limits.iter());
            } else {
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
                    blueprint_limits.extend(blueprint.limits.iter());
                }
            }
        }
    }

    let all_decorated: Vec<&Limit> = decorated
        .iter()
        .chain(blueprint_limits.iter())
        .copied()
        .collect();
    let defaults_kind = if exemption.contains(ExemptionScope::DEFAULT) {
        None
    } else if all_decorated.is_empty() || all_decorated.iter().all(|l| !l.override_defaults) {
        Some(EntryKind::Always)
    } else if all_decorated
        .iter()
        .any(|l| l.methods.is_none() && l.override_defaults)
    {
        None
    } else {
        // Defaults apply only to methods for which every decorated limit is method-exempt.
        Some(EntryKind::DefaultFallback)
    };

    let mut entries = Vec::new();
    let mut infos = Vec::new();
    let mut push = |limit: &Limit, source: LimitSource, kind: EntryKind| {
        let entry = Entry::new(limit.clone(), source, kind, &endpoint, &route.methods);
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
    if let Some(kind) = defaults_kind {
        for limit in &core.default_limits {
            push(limit, LimitSource::Default, kind);
        }
    }
    for limit in &decorated {
        push(limit, LimitSource::Route, EntryKind::Decorated);
    }
    for limit in &blueprint_limits {
        push(limit, LimitSource::Blueprint, EntryKind::Decorated);
    }
    let fallback_entries = core
        .fallback_limits
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
                &endpoint,
                &route.methods,
            )
        })
        .collect();
    let has_limits = !entries.is_empty();
    let exempt = !has_limits && !exemption.is_empty();
    let _ = cell.resolved.set(Arc::new(ResolvedRoute {
        core: core.clone(),
        endpoint: endpoint.clone(),
        plan: plan(&entries),
        entries,
        fallback_entries,
        meta: !exemption.contains(ExemptionScope::META),
    }));
    let _ = Provider::Dynamic;
    let methods = route.methods.iter().map(|m| m.as_str().to_owned());
    let mut info = RouteInfo::new(&route.name, group, &route.path, methods);
    info.limits = infos;
    info.exemption = exemption;
    info.exempt = exempt;
    Ok(info)
}
