//! The app of [Flask-Limiter's `flask limiter limits` example](https://flask-limiter.readthedocs.io/en/stable/cli.html), in axum:
//! application and meta limits, default limits, blueprints (named routers) with a nested child
//! blueprint and an exempt blueprint, a per-method limit, a shared limit and a route that adds a
//! limit to the defaults.
//!
//! ```text
//! /fast       the defaults (200 per day, 50 per hour)
//! /medium     the defaults and 1 per second
//! /slow       1 per day
//! /ping       exempt
//! /pm         3 per minute per method (GET, POST, OPTIONS, HEAD)
//! /shared1    5 per minute, shared with /shared2 (scope "shared")
//! /shared2    the same shared limit
//! /bp/a       blueprint "bp": 7 per minute
//! /bp/child/b blueprint "bp.child": bp's 7 per minute and its own 9 per minute
//! /ex/c       blueprint "ex": exempt
//! ```
//!
//! Every client also has the application limit 1000 per day and the meta limit 2 per hour
//! (breaching any limit twice an hour blocks the client everywhere).
//!
//! Configuration comes from the `RATELIMIT_*` environment variables (`LimiterBuilder::from_env`):
//! `RATELIMIT_STORAGE_URI` (default `memory://`), `RATELIMIT_KEY_PREFIX`, `RATELIMIT_STRATEGY`…
//! It serves on port 5000, or on `$PORT`. Run with `LIMITER_INSPECT=manifest` it prints its
//! manifest for the `limiter` CLI and exits without binding the port:
//!
//! ```sh
//! cargo build -p blueprints -p limiter-cli
//! target/debug/limiter --app target/debug/blueprints limits
//! ```

use axum::routing::MethodFilter;
use limiter_axum::routing::{get, on};
use limiter_axum::{exempt, get_remote_address, limit, shared_limit, Limit, Limiter, Router};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

async fn fast() -> &'static str {
    "fast"
}

#[limit("1 per second", override_defaults = false)]
async fn medium() -> &'static str {
    "medium"
}

#[limit("1 per day")]
async fn slow() -> &'static str {
    "slow"
}

#[exempt]
async fn ping() -> &'static str {
    "PONG"
}

#[limit("3 per minute", per_method)]
async fn pm() -> &'static str {
    "pm"
}

#[shared_limit("5 per minute", scope = "shared")]
async fn shared1() -> &'static str {
    "shared1"
}

#[shared_limit("5 per minute", scope = "shared")]
async fn shared2() -> &'static str {
    "shared2"
}

async fn bpa() -> &'static str {
    "bp a"
}

async fn childb() -> &'static str {
    "bp child b"
}

async fn exc() -> &'static str {
    "ex c"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs on stderr, `RUST_LOG` to filter (default `info`): storage failures, the circuit
    // breaker's transitions, shadow breaches; `RUST_LOG=limiter_axum=debug` shows each decision.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let limiter = Limiter::new(get_remote_address)
        .default_limits(["200 per day", "50 per hour"])
        .application_limits(["1000 per day"])
        .meta_limits(["2 per hour"])
        .headers_enabled(true)
        .from_env()? // RATELIMIT_STORAGE_URI (else memory://), RATELIMIT_KEY_PREFIX, …
        .build()
        .await?;

    let child = Router::named("child")
        .route("/b", get(childb))
        // Not overriding the defaults, so the parent's 7 per minute is inherited too (a child's
        // own limits that override the defaults replace the inherited ones, as in Flask-Limiter).
        .limit_with(Limit::new("9 per minute").override_defaults(false));
    let bp = Router::named("bp")
        .route("/a", get(bpa))
        .limit("7 per minute")
        .nest("/child", child);
    let ex = Router::named("ex").route("/c", get(exc)).exempt();

    let app = Router::new()
        .route("/fast", get(fast))
        .route("/medium", get(medium))
        .route("/slow", get(slow))
        .route("/ping", get(ping))
        .route(
            "/pm",
            on(
                MethodFilter::GET
                    .or(MethodFilter::POST)
                    .or(MethodFilter::OPTIONS)
                    .or(MethodFilter::HEAD),
                pm,
            ),
        )
        .route("/shared1", get(shared1))
        .route("/shared2", get(shared2))
        .nest("/bp", bp)
        .nest("/ex", ex)
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
