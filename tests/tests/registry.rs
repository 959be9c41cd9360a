//! The registry the CLI serialises: routes with endpoint, group, path, methods, resolved limits
//! (source, per-method expansion), exemption; and the limiter's configuration.

use axum::http::StatusCode;
use limiter_axum::routing::get;
use limiter_axum::{
    exempt, get_remote_address, limit, FailureMode, Limit, LimitSource, Limiter, Router, Strategy,
    UnroutedHandlers,
};

#[limit("1 per day")]
async fn slow() -> &'static str {
    "24"
}

async fn fast() -> &'static str {
    "42"
}

#[exempt]
async fn ping() -> &'static str {
    "PONG"
}

#[limit("3 per minute", per_method)]
async fn pm() -> &'static str {
    "pm"
}

async fn bpa() -> &'static str {
    "a"
}

#[tokio::test]
async fn routes_and_config_for_the_cli() {
    let limiter = Limiter::new(get_remote_address)
        .default_limits(["2 per minute", "1 per second"])
        .application_limits(["1000 per day"])
        .storage_uri("memory://")
        .strategy(Strategy::MovingWindow)
        .headers_enabled(true)
        .key_prefix("pfx")
        .failure_mode(FailureMode::FailClosed(StatusCode::SERVICE_UNAVAILABLE))
        .unrouted_handlers(UnroutedHandlers::Allow)
        .build()
        .await
        .unwrap();
    let _app = Router::<()>::new()
        .route("/slow", get(slow))
        .route("/fast", get(fast))
        .route("/ping", get(ping))
        .route("/pm", get(pm).post(pm))
        .route_unlimited("/raw", axum::routing::get(fast))
        .nest(
            "/bp",
            Router::named("bp")
                .route("/a", get(bpa))
                .limit_with(Limit::new("7 per minute")),
        )
        .with_limiter(&limiter)
        .unwrap();

    let routes = limiter.routes();
    let summary: Vec<(String, Option<String>, String, Vec<String>)> = routes
        .iter()
        .map(|r| {
            let limits = if r.exempt {
                vec!["Exempt".to_owned()]
            } else {
                r.limits
                    .iter()
                    .map(|l| match &l.method {
                        Some(method) => format!("{} ({method})", l.limit),
                        None => l.limit.clone(),
                    })
                    .collect()
            };
            (
                r.endpoint.clone(),
                r.blueprint.clone(),
                r.path.clone(),
                limits,
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            (
                "bp.bpa".into(),
                Some("bp".into()),
                "/bp/a".into(),
                s(&["7 per 1 minute"])
            ),
            (
                "fast".into(),
                None,
                "/fast".into(),
                s(&["2 per 1 minute", "1 per 1 second"])
            ),
            ("ping".into(), None, "/ping".into(), s(&["Exempt"])),
            (
                "pm".into(),
                None,
                "/pm".into(),
                s(&["3 per 1 minute (GET)", "3 per 1 minute (HEAD)"])
            ),
            (
                "pm".into(),
                None,
                "/pm".into(),
                s(&["3 per 1 minute (POST)"])
            ),
            ("/raw".into(), None, "/raw".into(), s(&[])),
            ("slow".into(), None, "/slow".into(), s(&["1 per 1 day"])),
        ]
    );
    let fast = &routes[1];
    assert_eq!(fast.methods, ["GET", "HEAD"]);
    assert_eq!(fast.limits[0].source, LimitSource::Default);
    assert_eq!(fast.limits[0].scope, "fast");
    assert_eq!(routes[0].limits[0].source, LimitSource::Blueprint);
    assert_eq!(routes[6].limits[0].source, LimitSource::Route);
    assert!(routes[5].opt_out);

    let config = limiter.config();
    assert_eq!(config.strategy, "moving-window");
    assert_eq!(config.storage_uri, "memory://");
    assert_eq!(config.default_limits, ["2 per 1 minute", "1 per 1 second"]);
    let application: Vec<(&str, LimitSource, &str, bool)> = config
        .application_limits
        .iter()
        .map(|l| (l.limit.as_str(), l.source, l.scope.as_str(), l.shared))
        .collect();
    assert_eq!(
        application,
        [("1000 per 1 day", LimitSource::Application, "global", true)]
    );
    assert!(config.headers_enabled);
    assert_eq!(config.key_prefix, "pfx");
    assert_eq!(config.key_func, "get_remote_address");
    assert_eq!(config.failure_mode, "fail-closed (503)");
    assert_eq!(config.header_names.limit, "x-ratelimit-limit");
    assert_eq!(config.storage_backend, "memory");
}

#[tokio::test]
async fn configuration_from_ratelimit_variables() {
    let vars = [
        ("RATELIMIT_DEFAULT", "10/minute;100/day"),
        ("RATELIMIT_STRATEGY", "sliding-window-counter"),
        ("RATELIMIT_HEADERS_ENABLED", "true"),
        ("RATELIMIT_KEY_PREFIX", "app"),
        ("RATELIMIT_SWALLOW_ERRORS", "true"),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    let limiter = Limiter::new(get_remote_address)
        .from_vars(lookup)
        .unwrap()
        .build()
        .await
        .unwrap();
    let config = limiter.config();
    assert_eq!(config.default_limits, ["10 per 1 minute", "100 per 1 day"]);
    assert_eq!(config.strategy, "sliding-window-counter");
    assert!(config.headers_enabled);
    assert_eq!(config.key_prefix, "app");
    assert_eq!(config.failure_mode, "fail-open");

    let bad = Limiter::new(get_remote_address)
        .from_vars(|name| (name == "RATELIMIT_DEFAULT").then(|| "1 per fortnight".to_owned()))
        .unwrap()
        .build()
        .await;
    assert!(bad.is_err());
}

/// `from_env` reads exactly the variables of limiter-core's list, which `limiter config` shows.
#[test]
fn from_vars_reads_exactly_the_listed_variables() {
    let asked = std::sync::Mutex::new(Vec::new());
    let _ = Limiter::new(get_remote_address).from_vars(|name| {
        asked.lock().unwrap().push(name.to_owned());
        None
    });
    let mut asked = asked.into_inner().unwrap();
    asked.sort_unstable();
    asked.dedup();
    let mut listed: Vec<String> = limiter_core::model::env::ALL
        .iter()
        .map(|name| name.to_string())
        .collect();
    listed.sort_unstable();
    assert_eq!(asked, listed);
}
