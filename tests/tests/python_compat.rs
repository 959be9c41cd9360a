//! Compatibility with Python deployments: the real `limits` package (PyPI `limits[redis]==5.8.0`)
//! and our Redis storage, on one Redis, share counters: hitting one key alternately, their
//! combined admissions equal the limit, under every strategy; and they name their keys alike.
//!
//! Needs `LIMITER_TEST_PYTHON` (a Python with `limits[redis]==5.8.0`, e.g. a private venv) and
//! `LIMITER_TEST_REDIS_URL`; skipped otherwise (see `limiter_tests::server_env`).

use limiter_core::{Hit, RateLimit, Storage, Strategy};
use limiter_tests::suite::unique_id;
use std::collections::BTreeSet;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A Python process that runs `limits` commands read from stdin, one per line:
/// `hit|test|stats <TAB> strategy <TAB> limit <TAB> identifier`.
const PYTHON: &str = r#"
import sys
import limits
from limits import parse, storage, strategies
assert limits.__version__ == "5.8.0", limits.__version__
store = storage.storage_from_string(sys.argv[1])
limiters = {
    "fixed-window": strategies.FixedWindowRateLimiter(store),
    "moving-window": strategies.MovingWindowRateLimiter(store),
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter(store),
}
print("ready", flush=True)
for line in sys.stdin:
    command, strategy, limit, identifier = line.rstrip("\n").split("\t")
    limiter, item = limiters[strategy], parse(limit)
    if command == "hit":
        print(int(limiter.hit(item, identifier)), flush=True)
    elif command == "test":
        print(int(limiter.test(item, identifier)), flush=True)
    else:
        print(limiter.get_window_stats(item, identifier).remaining, flush=True)
"#;

struct Python {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    async fn start(python: &str, redis_url: &str) -> Python {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(PYTHON)
            .arg(redis_url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("start {python}: {error}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut python = Python {
            _child: child,
            stdin,
            stdout,
        };
        assert_eq!(python.line().await, "ready");
        python
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).await.expect("read");
        assert!(!line.is_empty(), "the Python process exited");
        line.trim_end().to_owned()
    }

    async fn run(&mut self, command: &str, strategy: Strategy, limit: &str, id: &str) -> u64 {
        let request = format!("{command}\t{strategy}\t{limit}\t{id}\n");
        self.stdin
            .write_all(request.as_bytes())
            .await
            .expect("write");
        self.line().await.parse().expect("a number")
    }
}

async fn setup() -> Option<(Python, Storage, String)> {
    let test = "python compatibility";
    let python = limiter_tests::server_env("LIMITER_TEST_PYTHON", test)?;
    let url = limiter_tests::server_env("LIMITER_TEST_REDIS_URL", test)?;
    let storage = Storage::connect(&url).await.expect("connect");
    Some((Python::start(&python, &url).await, storage, url))
}

async fn rust_hit(storage: &Storage, strategy: Strategy, limit: &RateLimit, id: &str) -> bool {
    let ids = [id];
    storage
        .acquire(
            strategy,
            &[Hit {
                limit,
                identifiers: &ids,
                cost: 1,
            }],
            false,
        )
        .await
        .expect("acquire")[0]
        .allowed
}

/// Python and Rust hit one key alternately: 10 admissions in all for `10 per minute`, and both
/// read the same window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternate_hits_share_one_limit() {
    let Some((mut python, storage, _)) = setup().await else {
        return;
    };
    let notation = "10 per minute";
    let limit: RateLimit = notation.parse().expect("limit");
    for strategy in limiter_tests::PYTHON_STRATEGIES {
        let id = unique_id(&format!("compat-{strategy}"));
        let mut admitted = [0u32; 2];
        for round in 0..30 {
            let allowed = if round % 2 == 0 {
                python.run("hit", strategy, notation, &id).await == 1
            } else {
                rust_hit(&storage, strategy, &limit, &id).await
            };
            if allowed {
                admitted[round % 2] += 1;
            }
            // Both see the same window after every hit.
            let ours = storage
                .window_stats(strategy, &limit, &[&id])
                .await
                .expect("window_stats")
                .remaining;
            let theirs = python.run("stats", strategy, notation, &id).await;
            assert_eq!(ours, theirs, "{strategy}, round {round}: remaining");
        }
        assert_eq!(admitted, [5, 5], "{strategy}: Python, Rust admissions");
        assert_eq!(python.run("test", strategy, notation, &id).await, 0);
        println!("{strategy}: Python admitted 5, Rust admitted 5, of 10");
    }
}

/// The keys Python and we create for one hit are the same, apart from the identifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_names_and_values_match_python() {
    let Some((mut python, storage, url)) = setup().await else {
        return;
    };
    let mut redis = limiter_tests::redis_connection(&url).await;
    let notation = "3/minute";
    let limit: RateLimit = notation.parse().expect("limit");
    for strategy in limiter_tests::PYTHON_STRATEGIES {
        let python_id = unique_id(&format!("py-names-{strategy}"));
        let rust_id = unique_id(&format!("rs-names-{strategy}"));
        assert_eq!(python.run("hit", strategy, notation, &python_id).await, 1);
        assert!(rust_hit(&storage, strategy, &limit, &rust_id).await);
        let mut names = Vec::new();
        for id in [&python_id, &rust_id] {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("*{id}*"))
                .query_async(&mut redis)
                .await
                .expect("KEYS");
            assert!(!keys.is_empty(), "{strategy}: no key for {id}");
            let mut shapes = BTreeSet::new();
            for key in &keys {
                let kind: String = redis::cmd("TYPE")
                    .arg(key)
                    .query_async(&mut redis)
                    .await
                    .expect("TYPE");
                let read = if kind == "list" {
                    let mut read = redis::cmd("LRANGE");
                    read.arg(key).arg(0).arg(-1);
                    read
                } else {
                    let mut read = redis::cmd("MGET");
                    read.arg(key);
                    read
                };
                let value: Vec<String> = read.query_async(&mut redis).await.expect("value");
                // Timestamps differ; their form (digits before and after the point) must not.
                let value: Vec<String> = value
                    .iter()
                    .map(|entry| match entry.split_once('.') {
                        Some((whole, _)) => format!("{}.<fraction>", whole.len()),
                        None => entry.clone(),
                    })
                    .collect();
                shapes.insert((key.replace(id.as_str(), "<id>"), kind, value));
            }
            names.push(shapes);
        }
        assert_eq!(names[0], names[1], "{strategy}: Python's keys vs ours");
        let expected: BTreeSet<String> =
            limiter_core::storage::RedisStorage::keys_for("LIMITS", strategy, &limit, &[&rust_id])
                .into_iter()
                .map(|key| key.replace(rust_id.as_str(), "<id>"))
                .collect();
        let found: BTreeSet<String> = names[1].iter().map(|(key, _, _)| key.clone()).collect();
        assert!(
            found.is_subset(&expected),
            "{strategy}: {found:?} ⊄ {expected:?}"
        );
        println!("{strategy}: {:?}", names[0]);
    }
}

/// The sliding window's roll-over (RENAME of the current bucket) done by one side is read alike
/// by the other: one window after Python exhausted `4 per 2 seconds`, exactly one more hit fits,
/// taken by us, and Python is then refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_window_roll_over_is_shared() {
    let Some((mut python, storage, _)) = setup().await else {
        return;
    };
    let strategy = Strategy::SlidingWindowCounter;
    let notation = "4 per 2 seconds";
    let limit: RateLimit = notation.parse().expect("limit");
    let id = unique_id("compat-rollover");
    let start = tokio::time::Instant::now();
    for _ in 0..4 {
        assert_eq!(python.run("hit", strategy, notation, &id).await, 1);
    }
    assert!(!rust_hit(&storage, strategy, &limit, &id).await);
    tokio::time::sleep_until(start + std::time::Duration::from_millis(2150)).await;
    // Previous bucket: 4 hits with ~1.85 s of 2 left, weighted floor(3.7) = 3: one fits.
    assert!(
        rust_hit(&storage, strategy, &limit, &id).await,
        "one hit fits"
    );
    assert_eq!(
        python.run("hit", strategy, notation, &id).await,
        0,
        "and only one"
    );
    let ours = storage
        .window_stats(strategy, &limit, &[&id])
        .await
        .expect("window_stats")
        .remaining;
    assert_eq!(ours, python.run("stats", strategy, notation, &id).await);
}
