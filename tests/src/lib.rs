//! Shared helpers for the end-to-end tests: the behavioural [`suite`] every storage backend
//! must pass, and the environment rules for tests that need real servers.
//!
//! # Real servers
//!
//! Tests that need a server read its URL from an environment variable (see [`server_env`]).
//! When it is unset they print `SKIPPED: <why>` and pass, unless `LIMITER_TEST_SERVERS=1` is set
//! (the CI test command sets it after starting the servers), in which case a missing variable
//! fails the test.

pub mod suite;

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
        $crate::storage_suite!(@strategy $open, fixed_window, FixedWindow);
        $crate::storage_suite!(@strategy $open, moving_window, MovingWindow);
        $crate::storage_suite!(@strategy $open, sliding_window_counter, SlidingWindowCounter);
        mod strategy_specific {
            $crate::storage_suite!(@specific $open;
                fixed_window_anchored_at_first_hit,
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
