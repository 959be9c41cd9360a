//! The real `limiter` CLI against the real `examples/blueprints` app (Flask-Limiter's CLI
//! example, §5.1 of the behaviour reference): full text of `limits` (with its filters) and
//! `config`, and — on a real Redis — a client's live state after real HTTP requests, then
//! `clear`.

use limiter_tests::{cargo_binary, server_env, start_app};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The `RATELIMIT_*` variables the app reads (`LimiterBuilder::from_env`): removed so that the
/// caller's environment cannot change what the app prints.
const APP_VARIABLES: &[&str] = &limiter_core::model::env::ALL;

fn blueprints_binary() -> PathBuf {
    cargo_binary("blueprints")
}

/// `limiter --color never --app <blueprints> <args>` with the app's variables set to `env` (and
/// no others): (exit status, stdout, stderr).
fn limiter(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(cargo_binary("limiter"));
    for name in APP_VARIABLES {
        command.env_remove(name);
    }
    command
        .env_remove("LIMITER_APP")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .args(["--color", "never", "--app"])
        .arg(blueprints_binary())
        .args(args);
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// `limiter limits` on memory storage: stdout, after checking that it succeeded silently.
fn limits(args: &[&str]) -> String {
    let mut all = vec!["limits"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = limiter(&[], &all);
    assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}: {stdout}");
    stdout
}

const TREE: &str = "\
Meta Limits
└── 2 per 1 hour
Application Limits
└── 1000 per 1 day
bp
└── bp.bpa: /bp/a
    └── 7 per 1 minute
bp.child
└── bp.child.childb: /bp/child/b
    ├── 7 per 1 minute
    └── 9 per 1 minute
ex
└── ex.exc: /ex/c
    └── Exempt
app
├── fast: /fast
│   ├── 200 per 1 day
│   └── 50 per 1 hour
├── medium: /medium
│   ├── 200 per 1 day
│   ├── 50 per 1 hour
│   └── 1 per 1 second
├── ping: /ping
│   └── Exempt
├── pm: /pm
│   ├── 3 per 1 minute (GET)
│   ├── 3 per 1 minute (HEAD)
│   ├── 3 per 1 minute (POST)
│   └── 3 per 1 minute (OPTIONS)
├── shared1: /shared1
│   └── 5 per 1 minute
├── shared2: /shared2
│   └── 5 per 1 minute
└── slow: /slow
    └── 1 per 1 day
";

/// The §5.1 tree, from the real app. Differences from Flask's output, all deterministic: the
/// inherited blueprint limit comes first in `bp.child` (outermost first; Flask's order is a
/// set's), per-method lines follow the route's methods in a fixed order (Flask's: set order),
/// and `/shared2` shows the second user of the shared limit.
#[test]
fn limits_tree_of_the_blueprints_app() {
    assert_eq!(limits(&[]), TREE);
}

/// limiter-cli's README shows the same tree.
#[test]
fn the_readme_shows_this_tree() {
    let readme = include_str!("../../limiter-cli/README.md");
    assert!(
        readme.contains(&format!(
            "$ target/debug/limiter --app target/debug/blueprints limits\n{TREE}```"
        )),
        "limiter-cli/README.md lacks the tree:\n{TREE}"
    );
}

#[test]
fn limits_filtered_by_endpoint() {
    assert_eq!(
        limits(&["--endpoint", "bp.child.childb"]),
        "bp.child\n└── bp.child.childb: /bp/child/b\n    ├── 7 per 1 minute\n    \
         └── 9 per 1 minute\n"
    );
    assert_eq!(
        limits(&["--endpoint", "ex.exc"]),
        "ex\n└── ex.exc: /ex/c\n    └── Exempt\n"
    );
    assert_eq!(
        limits(&["--endpoint", "medium"]),
        "app\n└── medium: /medium\n    ├── 200 per 1 day\n    ├── 50 per 1 hour\n    \
         └── 1 per 1 second\n"
    );
    let (code, stdout, stderr) = limiter(&[], &["limits", "--endpoint", "bp.nope"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (2, "", "error: bp.nope not found\n")
    );
}

#[test]
fn limits_filtered_by_path_and_method() {
    assert_eq!(
        limits(&["--path", "/pm"]),
        "app\n└── pm: /pm\n    ├── 3 per 1 minute (GET)\n    ├── 3 per 1 minute (HEAD)\n    \
         ├── 3 per 1 minute (POST)\n    └── 3 per 1 minute (OPTIONS)\n"
    );
    assert_eq!(
        limits(&["--path", "/pm", "--method", "post"]),
        "app\n└── pm: /pm\n    └── 3 per 1 minute (POST)\n"
    );
    assert_eq!(
        limits(&["--path", "/pm", "--method", "HEAD"]),
        "app\n└── pm: /pm\n    └── 3 per 1 minute (HEAD)\n"
    );
    assert_eq!(
        limits(&["--path", "/bp/a", "--method", "GET"]),
        "bp\n└── bp.bpa: /bp/a\n    └── 7 per 1 minute\n"
    );
    assert_eq!(
        limits(&["--path", "/ping"]),
        "app\n└── ping: /ping\n    └── Exempt\n"
    );
    for (args, message) in [
        (
            vec!["limits", "--path", "/bp/a", "--method", "POST"],
            "error: POST: /bp/a could not be matched to an endpoint\n",
        ),
        (
            vec!["limits", "--path", "/pm", "--method", "DELETE"],
            "error: DELETE: /pm could not be matched to an endpoint\n",
        ),
        (
            vec!["limits", "--path", "/bp/child"],
            "error: /bp/child could not be matched to an endpoint\n",
        ),
    ] {
        let (code, stdout, stderr) = limiter(&[], &args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (2, "", message),
            "{args:?}"
        );
    }
}

const CONFIG: &str = "\
Limiter Config
Setting               Variable                              Value
--------------------  ------------------------------------  ----------------------------
Enabled               RATELIMIT_ENABLED                     true
Key function                                                get_remote_address
Key prefix            RATELIMIT_KEY_PREFIX                  ''
Max key length        RATELIMIT_MAX_KEY_LENGTH              256
Strategy              RATELIMIT_STRATEGY                    fixed-window
GCRA burst            RATELIMIT_GCRA_BURST                  (each limit's amount)
Storage URI           RATELIMIT_STORAGE_URI                 memory://
Storage status                                              OK
Default limits        RATELIMIT_DEFAULT                     200 per 1 day, 50 per 1 hour
Application limits    RATELIMIT_APPLICATION                 1000 per 1 day
Meta limits           RATELIMIT_META                        2 per 1 hour
In-memory fallback    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED  false
Fallback limits                                             (none)
Swallow errors        RATELIMIT_SWALLOW_ERRORS              false
On storage error                                            fail-closed (500)
Fail on first breach  RATELIMIT_FAIL_ON_FIRST_BREACH        true
Shadow mode           RATELIMIT_SHADOW_MODE                 false
Headers enabled       RATELIMIT_HEADERS_ENABLED             true
Limit header                                                x-ratelimit-limit
Remaining header                                            x-ratelimit-remaining
Reset header                                                x-ratelimit-reset
Retry-After header                                          retry-after
Retry-After value     RATELIMIT_HEADER_RETRY_AFTER_VALUE    delta-seconds
Header style          RATELIMIT_HEADER_STYLE                x-ratelimit
";

#[test]
fn config_of_the_blueprints_app() {
    assert_eq!(
        limiter(&[], &["config"]),
        (0, CONFIG.to_owned(), String::new())
    );
}

/// The app's configuration comes from its environment, and the CLI shows what the app sees
/// (the password masked).
#[test]
fn config_follows_the_apps_environment() {
    let (code, stdout, stderr) = limiter(
        &[
            ("RATELIMIT_KEY_PREFIX", "tenant-a"),
            ("RATELIMIT_STRATEGY", "moving-window"),
        ],
        &["config"],
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        CONFIG
            .replace(
                "Key prefix            RATELIMIT_KEY_PREFIX                  ''",
                "Key prefix            RATELIMIT_KEY_PREFIX                  'tenant-a'"
            )
            .replace(
                "RATELIMIT_STRATEGY                    fixed-window",
                "RATELIMIT_STRATEGY                    moving-window"
            )
    );
}

/// The Redis key of [`take_turns`]'s lock.
const META_LOCK: &str = "limiter-tests:lock:cli-blueprints-127.0.0.1";

/// Meta limits are counted without the key prefix (§4.8), so every run of this test on the same
/// Redis shares 127.0.0.1's meta counter: runs take turns through a lock key (it expires after
/// two minutes should a run die holding it).
async fn take_turns(url: &str, token: &str) -> redis::aio::MultiplexedConnection {
    let mut connection = limiter_tests::redis_connection(url).await;
    for _ in 0..1500 {
        let taken: Option<String> = redis::cmd("SET")
            .arg(META_LOCK)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(120_000)
            .query_async(&mut connection)
            .await
            .unwrap();
        if taken.is_some() {
            return connection;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{META_LOCK} still held after 150 s");
}

/// The issue's must-show: the Redis-backed app is hit over real HTTP, `limiter limits --key`
/// shows the decreased `remaining` (prefixed keys, meta limit included), `limiter clear -y`
/// restores it, and the app admits the client again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_state_and_clear_on_redis_over_http() {
    let Some(url) = server_env(
        "LIMITER_TEST_REDIS_URL",
        "live_state_and_clear_on_redis_over_http",
    ) else {
        return;
    };
    // A prefix of this run only: parallel runs on the same Redis use other keys.
    let prefix = format!(
        "cli-e2e-{}-{}",
        std::process::id(),
        std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()
    );
    let env = [
        ("RATELIMIT_STORAGE_URI", url.as_str()),
        ("RATELIMIT_KEY_PREFIX", prefix.as_str()),
    ];
    let mut lock = take_turns(&url, &prefix).await;
    // A run that died after a breach left 127.0.0.1's meta counter (not prefixed) behind.
    let (code, _, stderr) = limiter(&env, &["clear", "--key", "127.0.0.1", "-y"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let mut app = Command::new(blueprints_binary());
    for name in APP_VARIABLES {
        app.env_remove(name);
    }
    app.envs(env).stdout(std::process::Stdio::null());
    let (_app, server) = start_app(app).await;

    // bp's 7 per minute runs out on the 8th request (a breach, counted by the meta limit).
    assert_eq!(
        server.statuses("/bp/child/b", 8).await,
        [200, 200, 200, 200, 200, 200, 200, 429]
    );
    let pm = server.get("/pm").await;
    assert_eq!(
        (pm.status, pm.header("x-ratelimit-remaining")),
        (200, Some("2"))
    );

    let (code, stdout, stderr) = limiter(&env, &["limits", "--key", "127.0.0.1"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let expected_before = "\
Meta Limits
└── 2 per 1 hour: Pass (1 out of 2 remaining)
Application Limits
└── 1000 per 1 day: Pass (992 out of 1000 remaining)
bp
└── bp.bpa: /bp/a
    └── 7 per 1 minute: Pass (7 out of 7 remaining)
bp.child
└── bp.child.childb: /bp/child/b
    ├── 7 per 1 minute: Fail (0 out of 7 remaining)
    └── 9 per 1 minute: Pass (2 out of 9 remaining)
ex
└── ex.exc: /ex/c
    └── Exempt
app
├── fast: /fast
│   ├── 200 per 1 day: Pass (200 out of 200 remaining)
│   └── 50 per 1 hour: Pass (50 out of 50 remaining)
├── medium: /medium
│   ├── 200 per 1 day: Pass (200 out of 200 remaining)
│   ├── 50 per 1 hour: Pass (50 out of 50 remaining)
│   └── 1 per 1 second: Pass (1 out of 1 remaining)
├── ping: /ping
│   └── Exempt
├── pm: /pm
│   ├── 3 per 1 minute (GET): Pass (2 out of 3 remaining)
│   ├── 3 per 1 minute (HEAD): Pass (3 out of 3 remaining)
│   ├── 3 per 1 minute (POST): Pass (3 out of 3 remaining)
│   └── 3 per 1 minute (OPTIONS): Pass (3 out of 3 remaining)
├── shared1: /shared1
│   └── 5 per 1 minute: Pass (5 out of 5 remaining)
├── shared2: /shared2
│   └── 5 per 1 minute: Pass (5 out of 5 remaining)
└── slow: /slow
    └── 1 per 1 day: Pass (1 out of 1 remaining)
";
    assert_eq!(stdout, expected_before);

    // Another prefix is another app's counters: untouched by this client's requests.
    let (_, other, _) = limiter(
        &[
            ("RATELIMIT_STORAGE_URI", url.as_str()),
            ("RATELIMIT_KEY_PREFIX", &format!("{prefix}-other")),
        ],
        &[
            "limits",
            "--key",
            "127.0.0.1",
            "--endpoint",
            "bp.child.childb",
        ],
    );
    assert_eq!(
        other,
        "bp.child\n└── bp.child.childb: /bp/child/b\n    \
         ├── 7 per 1 minute: Pass (7 out of 7 remaining)\n    \
         └── 9 per 1 minute: Pass (9 out of 9 remaining)\n"
    );

    let (code, stdout, stderr) = limiter(&env, &["clear", "--key", "127.0.0.1", "-y"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert_eq!(
        stdout,
        "\
Meta Limits
└── 2 per 1 hour: Cleared
Application Limits
└── 1000 per 1 day: Cleared
bp.bpa
└── 7 per 1 minute: Cleared
bp.child.childb
├── 7 per 1 minute: Cleared
└── 9 per 1 minute: Cleared
ex.exc
fast
├── 200 per 1 day: Cleared
└── 50 per 1 hour: Cleared
medium
├── 200 per 1 day: Cleared
├── 50 per 1 hour: Cleared
└── 1 per 1 second: Cleared
ping
pm
└── 3 per 1 minute: Cleared
shared1
└── 5 per 1 minute: Cleared
shared2
└── 5 per 1 minute: Cleared
slow
└── 1 per 1 day: Cleared
"
    );

    let (code, stdout, _) = limiter(&env, &["limits", "--key", "127.0.0.1"]);
    assert_eq!(code, 0);
    let restored = expected_before
        .replace("Pass (1 out of 2 remaining)", "Pass (2 out of 2 remaining)")
        .replace("Pass (992 out of 1000", "Pass (1000 out of 1000")
        .replace("Fail (0 out of 7 remaining)", "Pass (7 out of 7 remaining)")
        .replace("Pass (2 out of 9 remaining)", "Pass (9 out of 9 remaining)")
        .replace("Pass (2 out of 3 remaining)", "Pass (3 out of 3 remaining)");
    assert_ne!(restored, expected_before);
    assert_eq!(stdout, restored);

    // The app admits the client again, from full windows.
    let again = server.get("/bp/child/b").await;
    assert_eq!(
        (
            again.status,
            again.body.as_str(),
            again.header("x-ratelimit-remaining")
        ),
        (200, "bp child b", Some("6"))
    );

    let holder: Option<String> = redis::cmd("GET")
        .arg(META_LOCK)
        .query_async(&mut lock)
        .await
        .unwrap();
    if holder.as_deref() == Some(prefix.as_str()) {
        let _: () = redis::cmd("DEL")
            .arg(META_LOCK)
            .query_async(&mut lock)
            .await
            .unwrap();
    }
}
