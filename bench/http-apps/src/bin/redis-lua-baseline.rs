//! The reference for the Redis apps: plain axum with a hand-written `from_fn` middleware that
//! runs ONE Lua script per request, the classic `INCR` + `EXPIRE` fixed window (60 s) on
//! `baseline/<peer ip>`, over one multiplexed connection (`ConnectionManager`) to
//! `$LIMITER_BENCH_REDIS_URL`, by `EVALSHA` (`redis::Script`). The limit, 10⁹ per window, is never
//! reached; a Redis error answers 500. What a user would write by hand instead of our limiter.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use http_bench_apps::{fast, redis_url, serve};
use redis::aio::ConnectionManager;
use redis::Script;
use std::net::SocketAddr;
use std::sync::Arc;

const LIMIT: i64 = 1_000_000_000;
const WINDOW_SECONDS: u64 = 60;
const INCR_EXPIRE: &str = "local c = redis.call('INCR', KEYS[1]) \
     if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
     return c";

#[derive(Clone)]
struct Baseline {
    connection: ConnectionManager,
    script: Arc<Script>,
}

async fn limit(
    State(baseline): State<Baseline>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let key = format!("baseline/{}", peer.ip());
    let mut connection = baseline.connection.clone();
    let count: Result<i64, _> = baseline
        .script
        .key(key)
        .arg(WINDOW_SECONDS)
        .invoke_async(&mut connection)
        .await;
    match count {
        Ok(count) if count <= LIMIT => next.run(request).await,
        Ok(_) => StatusCode::TOO_MANY_REQUESTS.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let url = redis_url();
    let client = redis::Client::open(url).expect("a valid Redis URL");
    let connection = ConnectionManager::new(client)
        .await
        .expect("cannot connect to Redis");
    let baseline = Baseline {
        connection,
        script: Arc::new(Script::new(INCR_EXPIRE)),
    };
    let app = axum::Router::new()
        .route("/fast", axum::routing::get(fast))
        .layer(from_fn_with_state(baseline, limit));
    serve(app).await
}
