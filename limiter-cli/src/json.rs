//! `--format json`: the documents `limiter limits` and `limiter config` print for programs.
//!
//! Each document names its `schema` and `version` ([`SCHEMA_VERSION`]); fields may be added
//! within a version, a change of meaning bumps it.
//!
//! `limiter limits --format json` (schema `limiter.limits`):
//!
//! ```json
//! { "schema": "limiter.limits", "version": 1, "key": "127.0.0.1",
//!   "meta_limits": [LIMIT], "application_limits": [LIMIT],
//!   "routes": [ { "endpoint": "fast", "group": "app", "path": "/fast",
//!                 "methods": ["GET", "HEAD"], "exempt": false, "limits": [LIMIT] } ] }
//! ```
//!
//! `key` is `null` without `--key`; the meta and application limits are empty with a filter.
//! A LIMIT is `{ "limit": "2 per 1 minute", "source": "route", "scope": "fast",
//! "method": null, "state": STATE }`, STATE being `null` without `--key`, else
//! `{"status": "pass" | "fail", "remaining": R, "amount": N}` or
//! `{"status": "unavailable" | "dynamic" | "skipped"}`.
//!
//! `limiter config --format json` (schema `limiter.config`): the rows of the table,
//! `{ "schema": "limiter.config", "version": 1, "settings": [ { "setting": "Strategy",
//! "variable": "RATELIMIT_STRATEGY", "value": "fixed-window" } ] }`, `variable` being `null`
//! for settings no variable sets.

use crate::limit_trees::KeyState;
use crate::select::Selection;
use limiter_core::manifest::Manifest;
use limiter_core::model::LimitInfo;
use serde_json::{json, Value};

/// The version of both documents.
pub const SCHEMA_VERSION: u32 = 1;

/// One limit, with its state for the key when there is one.
async fn limit(limit: &LimitInfo, key: Option<&KeyState<'_>>) -> Value {
    let state = match key {
        Some(key) => json!(key.state(limit).await),
        None => Value::Null,
    };
    json!({
        "limit": limit.limit,
        "source": limit.source,
        "scope": limit.scope,
        "method": limit.method,
        "state": state,
    })
}

async fn limits<'a>(
    items: impl IntoIterator<Item = &'a LimitInfo>,
    key: Option<&KeyState<'_>>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for item in items {
        out.push(limit(item, key).await);
    }
    out
}

/// The `limiter.limits` document of the selected routes.
pub async fn limits_document(
    manifest: &Manifest,
    selection: &Selection<'_>,
    key: Option<&KeyState<'_>>,
) -> String {
    let config = &manifest.config;
    let (meta, application) = if selection.filtered {
        (Vec::new(), Vec::new())
    } else {
        (
            limits(&config.meta_limits, key).await,
            limits(&config.application_limits, key).await,
        )
    };
    let mut routes = Vec::new();
    for route in &selection.routes {
        routes.push(json!({
            "endpoint": route.endpoint,
            "group": route.group(&manifest.app),
            "path": route.path,
            "methods": route.methods,
            "exempt": route.exempt,
            "limits": limits(selection.limits(route), key).await,
        }));
    }
    let document = json!({
        "schema": "limiter.limits",
        "version": SCHEMA_VERSION,
        "key": key.map(|key| key.key),
        "meta_limits": meta,
        "application_limits": application,
        "routes": routes,
    });
    format!("{document:#}\n")
}

/// The `limiter.config` document of the table's rows (setting, variable, value).
pub fn config_document(rows: &[[String; 3]]) -> String {
    let settings: Vec<Value> = rows
        .iter()
        .map(|[setting, variable, value]| {
            json!({
                "setting": setting,
                "variable": (!variable.is_empty()).then_some(variable),
                "value": value,
            })
        })
        .collect();
    let document = json!({
        "schema": "limiter.config",
        "version": SCHEMA_VERSION,
        "settings": settings,
    });
    format!("{document:#}\n")
}
