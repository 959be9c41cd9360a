//! The real `limiter` binary against manifest fixtures, fake apps and (when available) a real
//! Redis.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn limiter() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_limiter"));
    command
        .env_remove("LIMITER_APP")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("TERM");
    command
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `limiter --manifest <fixture> <args>` and returns (status, stdout, stderr).
fn run(manifest: &str, args: &[&str]) -> (i32, String, String) {
    let output = limiter()
        .arg("--manifest")
        .arg(manifest)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// A fresh directory for files a test writes.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const QUICKSTART_TREE: &str = "\
app
├── fast: /fast
│   ├── 2 per 1 minute
│   └── 1 per 1 second
├── ping: /ping
│   └── Exempt
└── slow: /slow
    └── 1 per 1 day
";

const RICH_TREE: &str = "\
Meta Limits
└── 2 per 1 hour
Application Limits
└── 1000 per 1 day
bp
└── bp.bpa: /bp/a
    └── 7 per 1 minute
bp.child
└── bp.child.childb: /bp/child/b
    ├── 9 per 1 minute
    └── 7 per 1 minute
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
│   ├── 3 per 1 minute (POST)
│   ├── 3 per 1 minute (OPTIONS)
│   └── 3 per 1 minute (HEAD)
├── shared1: /shared1
│   └── 5 per 1 minute
└── slow: /slow
    └── 1 per 1 day
";

#[test]
fn quickstart_tree_is_the_seeds() {
    assert_eq!(
        run(&fixture("quickstart.json"), &["limits"]),
        (0, QUICKSTART_TREE.to_owned(), String::new())
    );
}

#[test]
fn rich_tree_follows_flask_limiter() {
    assert_eq!(
        run(&fixture("rich.json"), &["limits"]),
        (0, RICH_TREE.to_owned(), String::new())
    );
}

#[test]
fn manifest_from_stdin() {
    let json = std::fs::read_to_string(fixture("quickstart.json")).unwrap();
    limiter()
        .args(["--manifest", "-", "limits"])
        .write_stdin(json)
        .assert()
        .success()
        .stdout(QUICKSTART_TREE);
}

/// `limiter --manifest rich.json limits` (stdout a pipe) with `env` set: its stdout.
fn limits_with_env(env: &[(&str, &str)], extra: &[&str]) -> String {
    let mut command = limiter();
    command
        .args(["--manifest", &fixture("rich.json"), "limits"])
        .args(extra);
    for (var, value) in env {
        command.env(var, value);
    }
    if extra.contains(&"--watch") {
        command.timeout(std::time::Duration::from_millis(1500));
    }
    String::from_utf8(command.output().unwrap().stdout).unwrap()
}

#[test]
fn colour_follows_the_environment() {
    let (_, plain, _) = run(&fixture("rich.json"), &["--color", "never", "limits"]);
    let forced = limits_with_env(&[("CLICOLOR_FORCE", "1")], &[]);
    assert!(forced.contains("\x1b[33m1 per 1 second\x1b[0m"), "{forced}");
    assert_eq!(anstream::adapter::strip_str(&forced).to_string(), plain);
    for env in [
        &[("NO_COLOR", "1")][..],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
        &[("TERM", "dumb")],
        &[("CLICOLOR", "0")],
        &[], // a pipe
    ] {
        assert_eq!(limits_with_env(env, &[]), plain, "{env:?}");
    }
    // `--color never` wins over CLICOLOR_FORCE, `--color always` over NO_COLOR.
    let never = limits_with_env(&[("CLICOLOR_FORCE", "1")], &["--color", "never"]);
    assert_eq!(never, plain);
    let always = limits_with_env(&[("NO_COLOR", "1")], &["--color", "always"]);
    assert!(always.contains("\x1b[33m1 per 1 second\x1b[0m"), "{always}");
}

#[test]
fn watch_never_clears_a_pipe() {
    for env in [&[][..], &[("CLICOLOR_FORCE", "1")]] {
        let out = limits_with_env(env, &["--watch"]);
        assert!(out.contains("1 per 1 second"), "{env:?}: {out}");
        assert!(
            !out.contains("\x1b[2J") && !out.contains("\x1b[H"),
            "{env:?}: {out:?}"
        );
    }
}

/// The tree's layout is fixed in code: a ptree configuration file or variable of the operator
/// changes nothing.
#[test]
fn tree_ignores_ptree_configuration() {
    let dir = scratch("ptree-config");
    let config = dir.join("ptree.toml");
    std::fs::write(&config, "indent = 2\npadding = 0\ncharacters = \"ascii\"\n").unwrap();
    std::fs::create_dir_all(dir.join("ptree")).unwrap();
    std::fs::copy(&config, dir.join("ptree").join("ptree.toml")).unwrap();
    let (_, expected, _) = run(&fixture("rich.json"), &["--color", "never", "limits"]);
    let output = limiter()
        .env("PTREE_CONFIG", &config)
        .env("PTREE_INDENT", "2")
        .env("XDG_CONFIG_HOME", &dir)
        .args([
            "--manifest",
            &fixture("rich.json"),
            "--color",
            "never",
            "limits",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
    assert!(expected.contains("├── ") && expected.contains("│   "));
}

#[test]
fn colours_only_when_asked() {
    let (_, plain, _) = run(&fixture("rich.json"), &["--color", "never", "limits"]);
    assert!(!plain.contains('\x1b'));
    let (code, colored, _) = run(&fixture("rich.json"), &["--color", "always", "limits"]);
    assert_eq!(code, 0);
    for expected in [
        "\x1b[38;5;178mapp\x1b[0m",             // gold app group
        "\x1b[34mbp.child\x1b[0m",              // blue blueprint group
        "\x1b[1m\x1b[31mExempt\x1b[0m",         // bold red Exempt
        "\x1b[1m\x1b[31m9 per 1 minute\x1b[0m", // bold red blueprint limit
        "\x1b[33m1 per 1 second\x1b[0m",        // yellow route limit
        "\x1b[35m200 per 1 day\x1b[0m",         // magenta default
        "\x1b[38;5;178mMeta Limits\x1b[0m",     // gold
    ] {
        assert!(colored.contains(expected), "{expected:?} in {colored}");
    }
    // Auto: stdout is a pipe here.
    let (_, auto, _) = run(&fixture("rich.json"), &["limits"]);
    assert_eq!(auto, plain);
}

#[test]
fn filters() {
    let rich = fixture("rich.json");
    assert_eq!(
        run(&rich, &["limits", "--endpoint", "bp.child.childb"]).1,
        "bp.child\n└── bp.child.childb: /bp/child/b\n    ├── 9 per 1 minute\n    └── 7 per 1 minute\n"
    );
    assert_eq!(
        run(&rich, &["limits", "--path", "/pm"]).1,
        "app\n└── pm: /pm\n    ├── 3 per 1 minute (GET)\n    ├── 3 per 1 minute (POST)\n    \
         ├── 3 per 1 minute (OPTIONS)\n    └── 3 per 1 minute (HEAD)\n"
    );
    assert_eq!(
        run(&rich, &["limits", "--path", "/pm", "--method", "post"]).1,
        "app\n└── pm: /pm\n    └── 3 per 1 minute (POST)\n"
    );
    assert_eq!(
        run(&rich, &["limits", "--path", "/ex/c"]).1,
        "ex\n└── ex.exc: /ex/c\n    └── Exempt\n"
    );
}

#[test]
fn paths_match_like_axum() {
    let dir = scratch("params");
    let manifest = dir.join("params.json");
    std::fs::write(
        &manifest,
        r#"{"version": 1, "app": "app", "config": {},
            "routes": [
              {"endpoint": "user", "group": "app", "path": "/users/{id}", "methods": ["GET"],
               "limits": [{"limit": "1 per 1 second", "source": "route", "scope": "user"}]},
              {"endpoint": "me", "group": "app", "path": "/users/me", "methods": ["GET"]},
              {"endpoint": "files", "group": "app", "path": "/files/{*rest}", "methods": ["GET"],
               "limits": [{"limit": "5 per 1 minute", "source": "default", "scope": "files"}]}
            ]}"#,
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    assert_eq!(
        run(manifest, &["limits", "--path", "/users/42"]).1,
        "app\n└── user: /users/{id}\n    └── 1 per 1 second\n"
    );
    assert_eq!(
        run(manifest, &["limits", "--path", "/users/me"]).1,
        "app\n└── me: /users/me\n"
    );
    assert_eq!(
        run(manifest, &["limits", "--path", "/files/a/b/c.txt"]).1,
        "app\n└── files: /files/{*rest}\n    └── 5 per 1 minute\n"
    );
    let (code, _, stderr) = run(manifest, &["limits", "--path", "/users/42/x"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: /users/42/x could not be matched to an endpoint\n"
    );
}

#[test]
fn selection_errors_exit_2() {
    let rich = fixture("rich.json");
    for (args, message) in [
        (
            vec!["limits", "--endpoint", "nope"],
            "error: nope not found\n",
        ),
        (
            vec!["limits", "--path", "/nope"],
            "error: /nope could not be matched to an endpoint\n",
        ),
        (
            vec!["limits", "--path", "/fast", "--method", "DELETE"],
            "error: DELETE: /fast could not be matched to an endpoint\n",
        ),
        (
            vec!["clear", "--key", "k", "--endpoint", "nope", "-y"],
            "error: nope not found\n",
        ),
    ] {
        let (code, stdout, stderr) = run(&rich, &args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (2, "", message),
            "{args:?}"
        );
    }
    // --method needs --path; --endpoint and --path exclude each other (clap's usage errors).
    let (code, _, _) = run(&rich, &["limits", "--method", "GET"]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&rich, &["limits", "--endpoint", "fast", "--path", "/fast"]);
    assert_eq!(code, 2);
}

#[test]
fn no_app_exits_2() {
    let output = limiter().arg("limits").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: no app given: pass --app <PATH> (or set LIMITER_APP) or --manifest <FILE>\n"
    );
}

#[test]
fn bad_manifests_exit_1() {
    let dir = scratch("bad-manifests");
    let cases = [
        ("garbage.json", "this is not json", "invalid manifest from"),
        (
            "v2.json",
            r#"{"version": 2, "app": "app"}"#,
            "unsupported manifest version 2: this limiter reads version 1",
        ),
        (
            "strategy.json",
            r#"{"version": 1, "app": "app", "config": {"strategy": "token-bucket"}}"#,
            "invalid rate limiting strategy 'token-bucket'",
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let (code, stdout, stderr) = run(path.to_str().unwrap(), &["limits"]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{name}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(message),
            "{name}: {stderr}"
        );
    }
    let (code, _, stderr) = run(dir.join("missing.json").to_str().unwrap(), &["limits"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: cannot read the manifest "),
        "{stderr}"
    );
}

/// Writes an executable shell script standing for an app binary.
fn fake_app(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn app_prints_its_manifest_when_inspected() {
    let dir = scratch("fake-app");
    // Serves (here: fails loudly) unless asked for the manifest.
    let app = fake_app(
        &dir,
        "app",
        &format!(
            "if [ \"$LIMITER_INSPECT\" != manifest ]; then echo 'would bind a port' >&2; exit 9; fi\n\
             cat '{}'",
            fixture("quickstart.json")
        ),
    );
    limiter()
        .arg("--app")
        .arg(&app)
        .arg("limits")
        .assert()
        .success()
        .stdout(QUICKSTART_TREE);
    // LIMITER_APP instead of --app.
    limiter()
        .env("LIMITER_APP", &app)
        .arg("limits")
        .assert()
        .success()
        .stdout(QUICKSTART_TREE);
}

#[test]
fn broken_apps_exit_1() {
    let dir = scratch("broken-apps");
    let failing = fake_app(&dir, "failing", "echo 'panicked at config' >&2; exit 3");
    let silent = fake_app(&dir, "silent", "exit 0");
    let garbage = fake_app(&dir, "garbage", "echo 'Listening on 0.0.0.0:3000'");
    let cases = [
        (
            failing.clone(),
            "exited with status 3 when asked for its manifest",
        ),
        (
            silent.clone(),
            "printed no manifest with LIMITER_INSPECT=manifest",
        ),
        (garbage.clone(), "invalid manifest from app"),
        (dir.join("absent"), "cannot run the app"),
    ];
    for (app, message) in cases {
        let output = limiter()
            .arg("--app")
            .arg(&app)
            .arg("limits")
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{}: {stderr}", app.display());
        assert!(output.stdout.is_empty());
        assert!(stderr.contains(message), "{}: {stderr}", app.display());
    }
    let output = limiter()
        .arg("--app")
        .arg(&failing)
        .arg("config")
        .output()
        .unwrap();
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("panicked at config"));
}

const QUICKSTART_CONFIG: &str = "\
Limiter Config
Setting               Variable                              Value
--------------------  ------------------------------------  ---------------------
Enabled               RATELIMIT_ENABLED                     true
Key function                                                get_remote_address
Key prefix            RATELIMIT_KEY_PREFIX                  ''
Max key length        RATELIMIT_MAX_KEY_LENGTH              256
Strategy              RATELIMIT_STRATEGY                    fixed-window
GCRA burst            RATELIMIT_GCRA_BURST                  (each limit's amount)
Storage URI           RATELIMIT_STORAGE_URI                 memory://
Storage status                                              OK
Default limits        RATELIMIT_DEFAULT                     (none)
Application limits    RATELIMIT_APPLICATION                 (none)
Meta limits           RATELIMIT_META                        (none)
In-memory fallback    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED  false
Fallback limits                                             (none)
Swallow errors        RATELIMIT_SWALLOW_ERRORS              false
On storage error                                            fail-closed
Fail on first breach  RATELIMIT_FAIL_ON_FIRST_BREACH        true
Shadow mode           RATELIMIT_SHADOW_MODE                 false
Headers enabled       RATELIMIT_HEADERS_ENABLED             false
Limit header                                                X-RateLimit-Limit
Remaining header                                            X-RateLimit-Remaining
Reset header                                                X-RateLimit-Reset
Retry-After header                                          Retry-After
Retry-After value     RATELIMIT_HEADER_RETRY_AFTER_VALUE    delta-seconds
Header style          RATELIMIT_HEADER_STYLE                x-ratelimit
";

#[test]
fn config_table() {
    assert_eq!(
        run(&fixture("quickstart.json"), &["config"]),
        (0, QUICKSTART_CONFIG.to_owned(), String::new())
    );
    let (code, stdout, _) = run(&fixture("rich.json"), &["config"]);
    assert_eq!(code, 0, "the storage's health is shown, not an exit status");
    assert!(!stdout.contains("s3cret"), "{stdout}");
    for line in [
        "Key prefix            RATELIMIT_KEY_PREFIX                  'pfx'",
        "Strategy              RATELIMIT_STRATEGY                    moving-window",
        "Storage URI           RATELIMIT_STORAGE_URI                 redis://admin:***@localhost:6379/0",
        "Default limits        RATELIMIT_DEFAULT                     200 per 1 day, 50 per 1 hour",
        "Application limits    RATELIMIT_APPLICATION                 1000 per 1 day",
        "Meta limits           RATELIMIT_META                        2 per 1 hour",
        "In-memory fallback    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED  true",
        "Fallback limits                                             10 per 1 minute",
        "Swallow errors        RATELIMIT_SWALLOW_ERRORS              false",
        "On storage error                                            in-memory-fallback",
        "Headers enabled       RATELIMIT_HEADERS_ENABLED             true",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in\n{stdout}");
    }
}

/// `limiter config` names exactly the variables the library reads (limiter-core's list, which
/// `from_env` reads), each once.
#[test]
fn config_names_exactly_the_variables_the_library_reads() {
    let (_, stdout, _) = run(&fixture("rich.json"), &["config"]);
    let lines: Vec<&str> = stdout.lines().collect();
    let column = lines[1].find("Variable").unwrap();
    let mut named: Vec<&str> = lines[3..]
        .iter()
        .filter_map(|line| line.get(column..))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|word| word.starts_with("RATELIMIT_"))
        .collect();
    named.sort_unstable();
    let mut read = limiter_core::model::env::ALL.to_vec();
    read.sort_unstable();
    assert_eq!(named, read);
}

#[test]
fn key_on_memory_shows_full_windows() {
    let (code, stdout, stderr) = run(
        &fixture("quickstart.json"),
        &["limits", "--key", "127.0.0.1"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "app\n├── fast: /fast\n│   ├── 2 per 1 minute: Pass (2 out of 2 remaining)\n\
         │   └── 1 per 1 second: Pass (1 out of 1 remaining)\n├── ping: /ping\n│   └── Exempt\n\
         └── slow: /slow\n    └── 1 per 1 day: Pass (1 out of 1 remaining)\n"
    );
    assert!(stderr.contains("memory://"), "{stderr}");
}

/// A manifest whose storage cannot be reached (nothing listens on port 1).
fn unreachable_manifest(dir: &Path) -> String {
    let json = std::fs::read_to_string(fixture("quickstart.json"))
        .unwrap()
        .replace("memory://", "redis://:hunter2@127.0.0.1:1");
    let path = dir.join("unreachable.json");
    std::fs::write(&path, json).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn unreachable_storage_exits_3() {
    let manifest = unreachable_manifest(&scratch("unreachable"));
    let (code, stdout, stderr) = run(&manifest, &["limits", "--key", "k", "--endpoint", "fast"]);
    assert_eq!(code, 3);
    assert_eq!(
        stdout,
        "app\n└── fast: /fast\n    ├── 2 per 1 minute: Storage not available\n    \
         └── 1 per 1 second: Storage not available\n"
    );
    assert!(
        stderr.contains("error: storage redis://:***@127.0.0.1:1 is not available: "),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));
    let (code, stdout, stderr) = run(&manifest, &["clear", "--key", "k", "-y"]);
    assert_eq!((code, stdout.as_str()), (3, ""));
    assert!(stderr.contains("is not available"), "{stderr}");
    let (code, stdout, _) = run(&manifest, &["config"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Storage status                                              Error: "));
}

#[test]
fn clear_on_memory_prints_what_it_cleared() {
    let (code, stdout, _) = run(
        &fixture("rich.json").replace("rich", "quickstart"),
        &["clear", "--key", "127.0.0.1", "-y"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "fast\n├── 2 per 1 minute: Cleared\n└── 1 per 1 second: Cleared\nping\nslow\n\
         └── 1 per 1 day: Cleared\n"
    );
}

#[test]
fn clear_asks_first() {
    let quickstart = fixture("quickstart.json");
    let preview = "\
fast: /fast
└── 2 per 1 minute: Pass (2 out of 2 remaining)
Proceed with resetting limits for key: k? [y/n] ";
    // No answer (stdin closed): nothing is cleared, status 4.
    let output = limiter()
        .args([
            "--manifest",
            &quickstart,
            "clear",
            "--key",
            "k",
            "--path",
            "/fast",
        ])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with(&preview.replace("└── 2", "├── 2").replace(
            "remaining)\nProceed",
            "remaining)\n└── 1 per 1 second: Pass (1 out of 1 remaining)\nProceed"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("Cleared"));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("not confirmed"));
    // "n": the same.
    limiter()
        .args(["--manifest", &quickstart, "clear", "--key", "k"])
        .write_stdin("n\n")
        .assert()
        .code(4);
    // "y": cleared.
    let output = limiter()
        .args([
            "--manifest",
            &quickstart,
            "clear",
            "--key",
            "k",
            "--endpoint",
            "slow",
        ])
        .write_stdin("y\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "slow: /slow\n└── 1 per 1 day: Pass (1 out of 1 remaining)\n\
         Proceed with resetting limits for key: k? [y/n] slow\n└── 1 per 1 day: Cleared\n"
    );
}

#[test]
fn help_is_complete() {
    let output = limiter().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "LIMITER_INSPECT=manifest",
        "limits",
        "config",
        "clear",
        "--app <PATH>",
        "LIMITER_APP",
        "--manifest <FILE>",
        "--color <COLOR>",
        "Examples:",
        "limiter --app target/debug/quickstart limits",
        "The app runs with `limiter`'s environment",
        "RATELIMIT_STORAGE_URI=redis://db:6379 limiter --app target/debug/myapp limits --key",
        "Exit status:",
    ] {
        assert!(help.contains(expected), "{expected:?} in\n{help}");
    }
    for (command, expected) in [
        (
            "limits",
            vec![
                "--endpoint",
                "--path",
                "--method",
                "--key",
                "--watch",
                "Examples:",
            ],
        ),
        (
            "config",
            vec!["Examples:", "limiter --app target/debug/myapp config"],
        ),
        (
            "clear",
            vec![
                "--key <KEY>",
                "-y, --yes",
                "--endpoint",
                "Proceed with resetting",
                "Examples:",
            ],
        ),
    ] {
        let output = limiter().args([command, "--help"]).output().unwrap();
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        for expected in expected {
            assert!(
                help.contains(expected),
                "{command}: {expected:?} in\n{help}"
            );
        }
    }
}

/// The help texts of `limiter` and its subcommands: (name, `--help` output).
fn helps() -> Vec<(String, String)> {
    let mut helps = Vec::new();
    for args in [
        vec!["--help"],
        vec!["limits", "--help"],
        vec!["config", "--help"],
        vec!["clear", "--help"],
    ] {
        let output = limiter().args(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(output.stderr.is_empty(), "{args:?}");
        helps.push((args.join(" "), String::from_utf8(output.stdout).unwrap()));
    }
    helps
}

/// Every option of every help has a description, and `help <command>` is `<command> --help`.
#[test]
fn help_documents_every_option() {
    for (name, help) in helps() {
        let lines: Vec<&str> = help.lines().collect();
        let options = lines
            .iter()
            .position(|line| *line == "Options:")
            .unwrap_or_else(|| panic!("{name}: no Options: in\n{help}"));
        let mut seen = 0;
        for (i, line) in lines.iter().enumerate().skip(options + 1) {
            let trimmed = line.trim_start();
            if line.is_empty() || !line.starts_with("  ") {
                if !line.is_empty() {
                    break;
                }
                continue;
            }
            if trimmed.starts_with('-') && line.len() - trimmed.len() <= 6 {
                seen += 1;
                let next = lines.get(i + 1).copied().unwrap_or("");
                assert!(
                    next.len() - next.trim_start().len() >= 10 && !next.trim().is_empty(),
                    "{name}: option {trimmed:?} has no description in\n{help}"
                );
            }
        }
        assert!(seen >= 4, "{name}: only {seen} options in\n{help}");
    }
    for command in ["limits", "config", "clear"] {
        let via_help = limiter().args(["help", command]).output().unwrap();
        let via_flag = limiter().args([command, "--help"]).output().unwrap();
        assert!(via_help.status.success());
        assert_eq!(via_help.stdout, via_flag.stdout, "{command}");
    }
}

/// Every example line of every help runs as written (on a fake app that prints the rich
/// manifest on memory storage, `app.json` being a saved copy): no usage error, and the expected
/// outcome.
#[test]
fn help_examples_run() {
    let dir = scratch("help-examples");
    let json = std::fs::read_to_string(fixture("rich.json"))
        .unwrap()
        .replace("redis://admin:s3cret@localhost:6379/0", "memory://");
    std::fs::write(dir.join("app.json"), json).unwrap();
    let app = fake_app(
        &dir,
        "app",
        &format!(
            "[ \"$LIMITER_INSPECT\" = manifest ] || exit 9\ncat '{}'",
            dir.join("app.json").display()
        ),
    );
    let mut ran = 0;
    for (name, help) in helps() {
        let examples: Vec<&str> = help
            .lines()
            .skip_while(|line| *line != "Examples:")
            .skip(1)
            .take_while(|line| line.starts_with("  "))
            .collect();
        assert!(examples.len() >= 2, "{name}: examples in\n{help}");
        for example in examples {
            // `LIMITER_INSPECT=manifest target/debug/myapp > app.json && limiter …`: the part
            // after `&&` (app.json exists already).
            let command = example.rsplit("&& ").next().unwrap();
            let mut words = command.split_whitespace().peekable();
            let mut env = Vec::new();
            while let Some((var, value)) = words.peek().and_then(|word| word.split_once('=')) {
                env.push((var.to_owned(), value.to_owned()));
                words.next();
            }
            assert_eq!(words.next(), Some("limiter"), "{name}: {example}");
            let args: Vec<String> = words
                .map(|word| {
                    if word.starts_with("target/debug/") {
                        app.to_str().unwrap().to_owned()
                    } else {
                        word.to_owned()
                    }
                })
                .collect();
            let mut run = limiter();
            run.current_dir(&dir).args(&args).write_stdin("n\n");
            for (var, value) in &env {
                let value = if value.starts_with("target/debug/") {
                    app.to_str().unwrap()
                } else {
                    value
                };
                run.env(var, value);
            }
            if args.iter().any(|arg| arg == "--watch") {
                run.timeout(std::time::Duration::from_millis(1500));
            }
            let output = run.output().unwrap();
            let stdout = String::from_utf8(output.stdout).unwrap();
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert!(
                !stderr.contains("For more information, try"),
                "{name}: usage error for {example}: {stderr}"
            );
            let expected = if args.iter().any(|arg| arg == "--watch") {
                None // killed by the timeout, after drawing
            } else if args.contains(&"/users/42".to_owned()) {
                Some(2) // the app has no /users/{id}
            } else if args.contains(&"clear".to_owned()) && !args.contains(&"-y".to_owned()) {
                Some(4) // answered "n"
            } else {
                Some(0)
            };
            assert_eq!(
                output.status.code(),
                expected,
                "{name}: {example}\n{stdout}{stderr}"
            );
            if args.iter().any(|arg| arg == "limits") && expected == Some(0) {
                assert!(
                    stdout.starts_with("Meta Limits\n") || stdout.starts_with("app\n"),
                    "{name}: {example}\n{stdout}"
                );
            }
            if args.iter().any(|arg| arg == "--watch") {
                assert!(
                    stdout.contains("200 per 1 day: Pass (200 out of 200 remaining)"),
                    "{name}: {example}\n{stdout}"
                );
            }
            ran += 1;
        }
    }
    assert!(ran >= 12, "{ran} examples");
}

/// `limiter completions bash` needs no app, and bash sources it: `limiter li<TAB>` completes to
/// `limits`, `limiter limits --en<TAB>` to `--endpoint`.
#[test]
fn bash_completions_source_and_complete() {
    let output = limiter().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let dir = scratch("completions");
    let script = dir.join("limiter.bash");
    std::fs::write(&script, &output.stdout).unwrap();
    let complete = |words: &str| {
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -e; source '{}'; complete -p limiter; COMP_WORDS=({words}); \
                 COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMP_LINE='{words}'; \
                 COMP_POINT=${{#COMP_LINE}}; _limiter limiter \"${{COMP_WORDS[COMP_CWORD]}}\" \
                 \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let top = complete("limiter li");
    assert!(top.starts_with("complete "), "{top}");
    assert!(top.contains("-F _limiter limiter"), "{top}");
    assert!(top.lines().any(|line| line == "limits"), "{top}");
    let options = complete("limiter limits --en");
    assert!(
        options.lines().any(|line| line == "--endpoint"),
        "{options}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let output = limiter().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        assert!(
            String::from_utf8(output.stdout)
                .unwrap()
                .contains("limiter"),
            "{shell}"
        );
    }
}

/// The app skips every limit for a request whose key is empty, so `--key ''` says so instead
/// of showing a full window.
#[test]
fn empty_key_is_reported_as_skipped() {
    let (code, stdout, _) = run(&fixture("quickstart.json"), &["limits", "--key", ""]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "app\n├── fast: /fast\n│   ├── 2 per 1 minute: Skipped (empty key, not limited)\n\
         │   └── 1 per 1 second: Skipped (empty key, not limited)\n├── ping: /ping\n│   └── Exempt\n\
         └── slow: /slow\n    └── 1 per 1 day: Skipped (empty key, not limited)\n"
    );
}

/// `--format json`: versioned documents a program can parse, with the same content as the text.
#[test]
fn json_documents_parse() {
    let (code, stdout, _) = run(
        &fixture("quickstart.json"),
        &["limits", "--format", "json", "--key", "127.0.0.1"],
    );
    assert_eq!(code, 0);
    let limits: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(limits["schema"], "limiter.limits");
    assert_eq!(limits["version"], 1);
    assert_eq!(limits["key"], "127.0.0.1");
    let routes = limits["routes"].as_array().unwrap();
    let endpoints: Vec<&str> = routes
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["fast", "ping", "slow"]);
    assert_eq!(routes[0]["group"], "app");
    assert_eq!(routes[0]["limits"][0]["limit"], "2 per 1 minute");
    assert_eq!(routes[0]["limits"][0]["source"], "route");
    assert_eq!(
        routes[0]["limits"][0]["state"],
        serde_json::json!({"status": "pass", "remaining": 2, "amount": 2})
    );
    assert_eq!(routes[1]["exempt"], true);

    let (_, stdout, _) = run(&fixture("quickstart.json"), &["limits", "--format", "json"]);
    let plain: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plain["key"], serde_json::Value::Null);
    assert_eq!(
        plain["routes"][0]["limits"][0]["state"],
        serde_json::Value::Null
    );

    let (code, stdout, _) = run(&fixture("rich.json"), &["config", "--format", "json"]);
    assert_eq!(code, 0);
    let config: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(config["schema"], "limiter.config");
    assert_eq!(config["version"], 1);
    let settings = config["settings"].as_array().unwrap();
    let strategy = settings
        .iter()
        .find(|s| s["setting"] == "Strategy")
        .unwrap();
    assert_eq!(strategy["variable"], "RATELIMIT_STRATEGY");
    assert_eq!(strategy["value"], "moving-window");
    let key_function = settings
        .iter()
        .find(|s| s["setting"] == "Key function")
        .unwrap();
    assert_eq!(key_function["variable"], serde_json::Value::Null);
    assert!(!stdout.contains("s3cret"));
}
