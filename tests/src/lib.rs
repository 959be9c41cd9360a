//! Helpers for the end-to-end tests:
//!
//! * serve an app on `127.0.0.1:0` with `axum::serve` and talk to it over real HTTP with
//!   hyper-util's client;
//! * the behavioural [`suite`] every storage backend must pass, and the environment rules for
//!   tests that need real servers.
//!
//! # Real servers
//!
//! Tests that need a server read its URL from an environment variable (see [`server_env`]).
//! When it is unset they print `SKIPPED: <why>` and pass, unless `LIMITER_TEST_SERVERS=1` is set
//! (the CI test command sets it after starting the servers), in which case a missing variable
//! fails the test.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;

/// A served app and a client for it.
pub struct Server {
    /// The address the app listens on.
    pub addr: SocketAddr,
    client: Client<HttpConnector, Body>,
}

/// What the server answered.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Serves `app` (with `ConnectInfo<SocketAddr>`) on an ephemeral port.
pub async fn serve(app: axum::Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server::at(addr)
}

/// Serves one route, `path` → `method_router`, checked by `limiter`.
pub async fn serve_route(
    limiter: &limiter_axum::Limiter,
    path: &str,
    method_router: limiter_axum::routing::MethodRouter,
) -> Server {
    let app = limiter_axum::Router::new()
        .route(path, method_router)
        .with_limiter(limiter)
        .expect("a valid router");
    serve(app).await
}

impl Server {
    /// A client for a server already listening at `addr`.
    pub fn at(addr: SocketAddr) -> Server {
        Server {
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[]).await
    }

    /// A request with extra headers.
    pub async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = self
            .client
            .request(builder.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// The status codes of `n` GETs in a row.
    pub async fn statuses(&self, path: &str, n: usize) -> Vec<u16> {
        let mut statuses = Vec::with_capacity(n);
        for _ in 0..n {
            statuses.push(self.get(path).await.status);
        }
        statuses
    }
}

/// Flask's (Werkzeug 3) 429 body for a description.
pub fn flask_429(description: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n\
         <h1>Too Many Requests</h1>\n<p>{description}</p>\n"
    )
}

/// The packages whose binaries the tests run. They are always built together (as `scripts/test`
/// does beforehand), so that every build resolves the same features and none rebuilds the others.
pub const BINARY_PACKAGES: [&str; 5] = [
    "quickstart",
    "blueprints",
    "limiter-cli",
    "redis-storage",
    "migration",
];

/// Builds the workspace's binaries with the same cargo and target directory as the running test
/// (a no-op when `scripts/test` built them already) and returns the path of `binary`.
pub fn cargo_binary(binary: &str) -> std::path::PathBuf {
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--bins"]);
    for package in BINARY_PACKAGES {
        build.args(["-p", package]);
    }
    let status = build
        .status()
        .unwrap_or_else(|error| panic!("cargo build: {error}"));
    assert!(
        status.success(),
        "cargo build of {BINARY_PACKAGES:?} failed"
    );
    let test_binary = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/<binary>
    let profile_dir = test_binary.parent().unwrap().parent().unwrap();
    profile_dir.join(format!("{binary}{}", std::env::consts::EXE_SUFFIX))
}

pub mod suite;

mod app_process;
pub use app_process::{start_app, Running};
mod private_redis;
pub use private_redis::{free_port, PrivateRedis};
/// The strategies Python's `limits` (and so Flask-Limiter) has: every one but GCRA. For the
/// tests that compare with the Python packages.
pub const PYTHON_STRATEGIES: [limiter_core::Strategy; 3] = [
    limiter_core::Strategy::FixedWindow,
    limiter_core::Strategy::MovingWindow,
    limiter_core::Strategy::SlidingWindowCounter,
];

/// The value of the environment variable `name`, which names a test server.
///
/// Returns `None` after printing `SKIPPED: …` when it is unset, so the caller returns early.
///
/// # Panics
///
/// When it is unset and `LIMITER_TEST_SERVERS=1`: the servers were promised, so their absence
/// is a failure, not a skip.
pub fn server_env(name: &str, test: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            let why = format!("{test}: {name} is not set (start the servers with scripts/test-servers.sh start and source .state/servers/env)");
            if servers_required() {
                panic!("LIMITER_TEST_SERVERS=1 but {why}");
            }
            println!("SKIPPED: {why}");
            None
        }
    }
}

/// Whether `LIMITER_TEST_SERVERS=1`: tests needing servers must not skip.
pub fn servers_required() -> bool {
    std::env::var("LIMITER_TEST_SERVERS").is_ok_and(|value| value == "1")
}

/// Runs the whole behavioural [`suite`] against the storage that `async fn $open() ->
/// Option<Storage>` returns (`None`: skipped), one `#[tokio::test]` per test and strategy.
/// `storage_suite!(@windows open)` leaves GCRA out (for a backend that refuses it).
///
/// ```ignore
/// async fn open() -> Option<limiter_core::Storage> {
///     Some(limiter_core::MemoryStorage::new().into())
/// }
/// limiter_tests::storage_suite!(open);
/// ```
#[macro_export]
macro_rules! storage_suite {
    ($open:ident) => {
        $crate::storage_suite!(@windows $open);
        $crate::storage_suite!(@strategy $open, gcra, GCRA);
        mod gcra_specific {
            $crate::storage_suite!(@specific $open;
                gcra_spaces_hits_by_the_interval,
                gcra_burst_is_configurable,
                gcra_concurrent_admission_is_exact
            );
        }
    };
    // The three window strategies of `limits`, for a backend without GCRA.
    (@windows $open:ident) => {
        $crate::storage_suite!(@strategy $open, fixed_window, FixedWindow);
        $crate::storage_suite!(@strategy $open, moving_window, MovingWindow);
        $crate::storage_suite!(@strategy $open, sliding_window_counter, SlidingWindowCounter);
        mod strategy_specific {
            $crate::storage_suite!(@specific $open;
                fixed_window_anchored_at_first_hit,
                fixed_window_counts_exactly_past_fourteen_digits,
                fixed_window_upper_bound_reset,
                moving_window_slides
            );
        }
    };
    (@strategy $open:ident, $module:ident, $strategy:ident) => {
        mod $module {
            $crate::storage_suite!(@tests $open, $strategy;
                admits_amount_then_rejects,
                recovers_after_window,
                test_consumes_nothing,
                window_stats_remaining_and_reset,
                clear_forgets,
                cost_above_amount,
                amount_zero_always_blocks,
                batch_without_stop,
                batch_with_stop,
                concurrent_hits_are_exact
            );
        }
    };
    (@tests $open:ident, $strategy:ident; $($test:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                if let Some(storage) = super::$open().await {
                    $crate::suite::$test(storage, limiter_core::Strategy::$strategy).await;
                }
            }
        )*
    };
    (@specific $open:ident; $($test:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                if let Some(storage) = super::$open().await {
                    $crate::suite::$test(storage).await;
                }
            }
        )*
    };
}

/// A direct connection to a Redis server, for tests that look at what the storage did.
pub async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// How many times the server ran a script (`EVALSHA` + `EVAL`), from `INFO commandstats`.
pub async fn script_calls(connection: &mut redis::aio::MultiplexedConnection) -> u64 {
    command_calls(connection, &["evalsha", "eval"]).await
}

/// The sum of the `calls=` of these commands in `INFO commandstats`.
pub async fn command_calls(
    connection: &mut redis::aio::MultiplexedConnection,
    commands: &[&str],
) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            if !commands.contains(&name) {
                return None;
            }
            let calls = stats
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?;
            calls.parse::<u64>().ok()
        })
        .sum()
}

/// Runs `scripts/test-servers.sh <command>` (e.g. `stop-redis`), panicking if it fails.
pub fn test_servers(command: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/test-servers.sh");
    let status = std::process::Command::new(script)
        .arg(command)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|error| panic!("run {script} {command}: {error}"));
    assert!(status.success(), "{script} {command} failed: {status}");
}

/// `host:port` of the master the sentinel on `127.0.0.1:<sentinel_port>` reports for
/// `mymaster`.
pub async fn sentinel_master(sentinel_port: &str) -> String {
    let mut sentinel = redis_connection(&format!("redis://127.0.0.1:{sentinel_port}")).await;
    let (host, port): (String, String) = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("mymaster")
        .query_async(&mut sentinel)
        .await
        .expect("SENTINEL get-master-addr-by-name");
    format!("{host}:{port}")
}

/// The storage of the app-level feature tests: `None` (the limiter's default, memory) when a test
/// file runs as itself, and a real Redis — under a Redis key prefix of its own, so that tests
/// running at once never share a counter — when the same tests run from a `*_redis.rs` test
/// file that includes them as a module (`features_redis.rs`, `app_features_redis.rs`).
///
/// `module` is the caller's `module_path!()`.
pub async fn feature_storage(module: &str, test: &str) -> Option<limiter_core::Storage> {
    let crate_name = module.split("::").next().unwrap_or_default();
    if !crate_name.ends_with("_redis") {
        return None;
    }
    let Some(url) = server_env("LIMITER_TEST_REDIS_URL", test) else {
        println!("SKIPPED on Redis: {test} runs on memory storage instead");
        return None;
    };
    let storage = limiter_core::RedisStorage::builder(url)
        .key_prefix(suite::unique_id("features"))
        .build()
        .await
        .expect("connect to the test Redis");
    Some(storage.into())
}

/// Builds a limiter for an app-level test on the storage [`feature_storage`] picks for the calling
/// test file (`module_path!()`): memory, or Redis when the file runs from a `*_redis.rs` file.
pub async fn build_limiter(
    builder: limiter_axum::LimiterBuilder,
    module: &str,
) -> limiter_axum::Limiter {
    let builder = match feature_storage(module, module).await {
        Some(storage) => builder.storage(storage),
        None => builder,
    };
    builder.build().await.expect("build the limiter")
}

/// Builds the limiter as [`build_limiter`] does (memory, or Redis from a `*_redis.rs` file; the
/// caller's `module_path!()` as `module`) and serves `router` under it over real HTTP.
pub async fn serve_limited(
    builder: limiter_axum::LimiterBuilder,
    router: limiter_axum::Router,
    module: &str,
) -> (limiter_axum::Limiter, Server) {
    let limiter = build_limiter(builder, module).await;
    let app = router.with_limiter(&limiter).expect("a valid router");
    (limiter, serve(app).await)
}
