//! An existing axum app, before it adopts the limiter: state, a nested router, a third-party
//! router, and tower-http's CORS and tracing layers.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
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
    let app = Router::new()
        .route("/", get(hello))
        .route("/login", post(login))
        .nest("/users", users())
        .nest("/ops", third_party::router())
        .layer(CorsLayer::permissive())
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
