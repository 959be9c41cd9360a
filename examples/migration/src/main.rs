//! The app of `docs/migration.md` after it adopted the limiter: the same app as `before.rs`,
//! with the limiter's tower `Layer` (default limits on every route, 5 logins per minute).
//!
//! `limiter --app target/debug/migration limits` lists what the layer limits.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use limiter_axum::{get_remote_address, Limiter};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

/// The app's state.
struct AppState {
    greeting: String,
}

/// A router from another crate (an admin or health-check crate, say), nested as it is.
mod third_party {
    use axum::routing::get;
    use axum::Router;

    pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
        Router::new().route("/health", get(|| async { "ok" }))
    }
}

async fn hello(State(state): State<Arc<AppState>>) -> String {
    state.greeting.clone()
}

async fn login() -> &'static str {
    "welcome"
}

async fn user(Path(id): Path<u32>) -> String {
    format!("user {id}")
}

fn users() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { "[]" }))
        .route("/{id}", get(user))
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
    let state = Arc::new(AppState {
        greeting: "hello".to_owned(),
    });
    let limiter = Limiter::new(get_remote_address)
        .default_limits(["100 per hour"])
        .build()
        .await?;
    let app = Router::new()
        .route("/", get(hello))
        .route("/login", post(login))
        .nest("/users", users())
        .nest("/ops", third_party::router())
        .route_layer(limiter.layer().limit("/login", "5 per minute").build()?)
        .layer(CorsLayer::permissive())
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
