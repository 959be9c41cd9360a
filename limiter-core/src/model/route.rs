//! [`RouteInfo`]: one handler at one path, with its resolved limits.

use super::{ExemptionScope, LimitInfo};

/// The group label of the routes that are in no named router (blueprint): Flask's `app.name`.
pub const APP_GROUP: &str = "app";

/// One handler at one path, with its resolved limits (without application limits, which
/// [`ConfigInfo::application_limits`](super::ConfigInfo::application_limits) lists once).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "manifest", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct RouteInfo {
    /// The endpoint: the handler's name prefixed by its blueprints (`bp.child.handler`).
    pub endpoint: String,
    /// The handler's own name.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub name: String,
    /// The dotted blueprint path (`bp.child`), `None` for the application's own routes. In a
    /// manifest this is `group`, [`APP_GROUP`] for the application's routes.
    #[cfg_attr(feature = "manifest", serde(rename = "group", with = "group", default))]
    pub blueprint: Option<String>,
    /// The full path (`/bp/child/b`), in axum's syntax (`/users/{id}`, `/files/{*rest}`).
    pub path: String,
    /// The methods the handler serves, upper case (`GET` implies `HEAD`).
    #[cfg_attr(feature = "manifest", serde(default))]
    pub methods: Vec<String>,
    /// The resolved default, route and blueprint limits in resolution order, defaults first;
    /// per-method limits listed once per method of the route.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub limits: Vec<LimitInfo>,
    /// The route's effective exemption flags (its own and its blueprints').
    #[cfg_attr(feature = "manifest", serde(default))]
    pub exemption: ExemptionScope,
    /// `true` when the route has no limits and is exempt: `limiter limits` prints `Exempt`.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub exempt: bool,
    /// `true` for a route the limiter never checks (limiter-axum's `Router::route_unlimited`).
    #[cfg_attr(feature = "manifest", serde(default))]
    pub opt_out: bool,
}

impl RouteInfo {
    /// A route of `blueprint` (`None`: of the application) serving `methods`, without limits or
    /// exemption; its endpoint is `blueprint.name`, or `name` alone.
    pub fn new<M: Into<String>>(
        name: impl Into<String>,
        blueprint: Option<String>,
        path: impl Into<String>,
        methods: impl IntoIterator<Item = M>,
    ) -> Self {
        let name = name.into();
        let endpoint = match &blueprint {
            Some(blueprint) => format!("{blueprint}.{name}"),
            None => name.clone(),
        };
        RouteInfo {
            endpoint,
            name,
            blueprint,
            path: path.into(),
            methods: methods.into_iter().map(Into::into).collect(),
            limits: Vec::new(),
            exemption: ExemptionScope::NONE,
            exempt: false,
            opt_out: false,
        }
    }

    /// The label of the route's group: its blueprint, or `app_group` for the application's
    /// own routes.
    pub fn group<'a>(&'a self, app_group: &'a str) -> &'a str {
        self.blueprint.as_deref().unwrap_or(app_group)
    }
}

/// `blueprint` as the manifest's `group`: `None` is [`APP_GROUP`].
#[cfg(feature = "manifest")]
mod group {
    use super::APP_GROUP;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        blueprint: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(blueprint.as_deref().unwrap_or(APP_GROUP))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        let group = String::deserialize(deserializer)?;
        Ok((group != APP_GROUP).then_some(group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_prefixed_by_their_blueprints() {
        let route = RouteInfo::new("childb", Some("bp.child".to_owned()), "/b", ["GET"]);
        assert_eq!(route.endpoint, "bp.child.childb");
        assert_eq!(route.group(APP_GROUP), "bp.child");
        let route = RouteInfo::new("fast", None, "/fast", ["GET", "HEAD"]);
        assert_eq!(route.endpoint, "fast");
        assert_eq!(route.group(APP_GROUP), "app");
    }
}
