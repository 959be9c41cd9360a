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
//!     "storage_backend": "redis", "key_prefix": "", "max_key_length": 256,
//!     "key_function": "get_remote_address",
//!     "headers_enabled": false,
//!     "header_names": { "limit": "X-RateLimit-Limit", "remaining": "X-RateLimit-Remaining",
//!                       "reset": "X-RateLimit-Reset", "retry_after": "Retry-After" },
//!     "retry_after": "delta-seconds", "fail_on_first_breach": true,
//!     "on_storage_error": "fail-closed (500)",
//!     "default_limits": [], "application_limits": [], "meta_limits": [], "in_memory_fallback": [],
//!     "on_breach": false
//!   },
//!   "routes": [
//!     { "endpoint": "fast", "name": "fast", "group": "app", "path": "/fast",
//!       "methods": ["GET", "HEAD"], "exemption": [], "exempt": false, "opt_out": false,
//!       "limits": [ { "limit": "2 per 1 minute", "source": "route", "scope": "fast",
//!                     "method": null, "methods": null, "shared": false, "per_method": false,
//!                     "override_defaults": true, "cost": 1, "dynamic": false,
//!                     "deduct_when": null, "exempt_when": null, "conditional": false,
//!                     "uses_key_prefix": true } ] }
//!   ]
//! }
//! ```
//!
//! * The manifest is the [model](crate::model) in JSON: [`Manifest::config`] is a
//!   [`ConfigInfo`] (its `key_func` written `key_function`, its `failure_mode`
//!   `on_storage_error`), [`Manifest::routes`] are [`RouteInfo`]s (their `blueprint` written
//!   `group`, [`APP_GROUP`] for the application's own routes) with [`LimitInfo`]s.
//! * Readers ignore unknown fields, and most fields have defaults (those of Flask-Limiter), so
//!   fields can be added within version 1. A change that alters the meaning of an existing
//!   field bumps [`MANIFEST_VERSION`]; readers reject versions they do not know.
//! * Routes list, per handler and path, the **resolved** default, route and blueprint limits in
//!   resolution order (defaults first), with per-method limits expanded once per method of the
//!   route ([`LimitInfo::method`]). Application and meta limits are listed once, in
//!   [`ConfigInfo`].
//! * Each limit carries everything needed to rebuild its storage key
//!   ([`LimitInfo::identifiers`]), so the CLI reads and clears exactly the counters the app
//!   writes.
//!
//! ```
//! use limiter_core::manifest::Manifest;
//! use limiter_core::model::{ConfigInfo, LimitInfo, LimitSource, RouteInfo};
//!
//! let limit: limiter_core::RateLimit = "2 per minute".parse()?;
//! let mut route = RouteInfo::new("fast", None, "/fast", ["GET", "HEAD"]);
//! route.limits.push(LimitInfo::new(&limit, LimitSource::Route, "fast"));
//! let mut config = ConfigInfo::default();
//! config.key_prefix = "pfx".into();
//! let manifest = Manifest::new(config, vec![route]);
//!
//! let json = manifest.to_json();
//! assert!(json.contains(r#""group": "app""#));
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

#[cfg(doc)]
use crate::model::LimitInfo;
use crate::model::{ConfigInfo, RouteInfo, APP_GROUP};
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
    /// The group label of the application's own routes (Flask's `app.name`), [`APP_GROUP`]
    /// as written; the routes' `group` is this label for routes without a blueprint.
    pub app: String,
    /// The limiter's configuration.
    pub config: ConfigInfo,
    /// Every route (handler and path), with its resolved limits.
    #[serde(default)]
    pub routes: Vec<RouteInfo>,
}

impl Manifest {
    /// A version-[`MANIFEST_VERSION`] manifest, the application's routes labelled
    /// [`APP_GROUP`].
    ///
    /// The storage URI's password is masked (`redis://user:***@host`): the manifest is printed
    /// and saved, and the CLI takes the real URI from its own `--storage-uri` or
    /// `RATELIMIT_STORAGE_URI`.
    pub fn new(mut config: ConfigInfo, routes: Vec<RouteInfo>) -> Self {
        config.storage_uri = crate::uri::masked(&config.storage_uri);
        Manifest {
            version: MANIFEST_VERSION,
            app: APP_GROUP.to_owned(),
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
        let mut manifest: Manifest = serde_json::from_str(text)?;
        manifest.complete_routes();
        Ok(manifest)
    }

    /// The manifest as pretty-printed JSON (what an app prints for `LIMITER_INSPECT=manifest`).
    /// The storage URI's password is masked here too, whoever built the manifest.
    pub fn to_json(&self) -> String {
        let masked = crate::uri::masked(&self.config.storage_uri);
        let text = if masked == self.config.storage_uri {
            serde_json::to_string_pretty(self)
        } else {
            let mut shown = self.clone();
            shown.config.storage_uri = masked;
            serde_json::to_string_pretty(&shown)
        };
        text.expect("a manifest always serialises")
    }

    /// Fills in what a manifest may leave implicit: a route of the group [`app`](Self::app)
    /// has no blueprint, and a route without `name` is named after its endpoint.
    fn complete_routes(&mut self) {
        for route in &mut self.routes {
            if route.blueprint.as_deref() == Some(self.app.as_str()) {
                route.blueprint = None;
            }
            if route.name.is_empty() {
                let own = match &route.blueprint {
                    Some(blueprint) => route
                        .endpoint
                        .strip_prefix(blueprint.as_str())
                        .and_then(|rest| rest.strip_prefix('.')),
                    None => None,
                };
                route.name = own.unwrap_or(&route.endpoint).to_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LimitInfo, LimitSource};

    #[test]
    fn the_storage_password_is_masked() {
        let config = ConfigInfo {
            storage_uri: "redis://admin:s3cret@h:6379/0?password=s3cret".to_owned(),
            ..ConfigInfo::default()
        };
        let manifest = Manifest::new(config.clone(), Vec::new());
        assert_eq!(
            manifest.config.storage_uri,
            "redis://admin:***@h:6379/0?password=***"
        );
        let mut built = manifest.clone();
        built.config = config;
        let json = built.to_json();
        assert!(!json.contains("s3cret"), "{json}");
        assert!(json.contains("redis://admin:***@h:6379/0"), "{json}");
    }

    #[test]
    fn minimal_json_gets_defaults() {
        let manifest = Manifest::from_json(
            r#"{"version": 1, "app": "app", "config": {"storage_uri": "redis://h:1"},
                "routes": [{"endpoint": "bp.e", "group": "bp", "path": "/e",
                            "limits": [{"limit": "1 per 1 second", "source": "route",
                                        "scope": "e", "future_field": 1}]},
                           {"endpoint": "f", "group": "app", "path": "/f"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.config.strategy, "fixed-window");
        assert_eq!(manifest.config.storage_uri, "redis://h:1");
        assert_eq!(manifest.config.header_names.retry_after, "Retry-After");
        assert_eq!(manifest.config.failure_mode, "fail-closed");
        let route = &manifest.routes[0];
        assert_eq!(route.blueprint.as_deref(), Some("bp"));
        assert_eq!(route.name, "e");
        let limit = &route.limits[0];
        assert_eq!(limit.cost, Some(1));
        assert!(limit.uses_key_prefix);
        assert!(limit.override_defaults);
        assert_eq!(limit.method, None);
        assert_eq!(manifest.routes[1].blueprint, None);
        assert_eq!(manifest.routes[1].name, "f");
    }

    #[test]
    fn another_app_label_means_no_blueprint() {
        let manifest = Manifest::from_json(
            r#"{"version": 1, "app": "shop", "config": {},
                "routes": [{"endpoint": "f", "group": "shop", "path": "/f"}]}"#,
        )
        .unwrap();
        assert_eq!(manifest.routes[0].blueprint, None);
        assert_eq!(manifest.routes[0].group(&manifest.app), "shop");
    }

    #[test]
    fn renamed_fields_keep_their_manifest_names() {
        let config = ConfigInfo {
            key_func: "api_key".to_owned(),
            failure_mode: "fail-open".to_owned(),
            ..ConfigInfo::default()
        };
        let mut route = RouteInfo::new("r", Some("bp".to_owned()), "/r", ["GET"]);
        route.exemption = crate::model::ExemptionScope::DEFAULT;
        let json = Manifest::new(config, vec![route]).to_json();
        for expected in [
            r#""key_function": "api_key""#,
            r#""on_storage_error": "fail-open""#,
            r#""group": "bp""#,
            r#""exemption": ["#,
            r#""DEFAULT""#,
        ] {
            assert!(json.contains(expected), "{expected} in {json}");
        }
        let read = Manifest::from_json(&json).unwrap();
        assert_eq!(
            read.routes[0].exemption,
            crate::model::ExemptionScope::DEFAULT
        );
        assert!(Manifest::from_json(&json.replace("\"DEFAULT\"", "\"SOMETIMES\"")).is_err());
    }

    #[test]
    fn dynamic_cost_is_null() {
        let mut limit = LimitInfo::new(&"1 per second".parse().unwrap(), LimitSource::Route, "e");
        limit.cost = None;
        let json = serde_json::to_string(&limit).unwrap();
        assert!(json.contains(r#""cost":null"#), "{json}");
        assert_eq!(serde_json::from_str::<LimitInfo>(&json).unwrap(), limit);
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
