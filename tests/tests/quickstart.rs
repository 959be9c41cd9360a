//! The README's curl session, against the real `examples/quickstart` binary over real HTTP.

use limiter_tests::{cargo_binary, flask_429, start_app};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn quickstart_binary() -> PathBuf {
    cargo_binary("quickstart")
}

/// The README's `limiter limits` command: the real CLI runs the real quickstart binary, which
/// prints its manifest instead of serving, and the tree is the seed's, exactly.
#[test]
fn the_cli_prints_the_quickstart_tree() {
    let quickstart = quickstart_binary();
    let limiter = cargo_binary("limiter");
    let output = Command::new(limiter)
        .args(["--color", "never", "--app"])
        .arg(&quickstart)
        .arg("limits")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "app\n\
         ├── fast: /fast\n\
         │   ├── 2 per 1 minute\n\
         │   └── 1 per 1 second\n\
         ├── ping: /ping\n\
         │   └── Exempt\n\
         └── slow: /slow\n    \
         └── 1 per 1 day\n"
    );
}

/// Inspection never binds the port: it works while another process holds it.
#[test]
fn inspection_prints_the_manifest_without_serving() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let output = Command::new(quickstart_binary())
        .env("PORT", port.to_string())
        .env("LIMITER_INSPECT", "manifest")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let manifest = String::from_utf8(output.stdout).unwrap();
    assert!(manifest.contains("\"endpoint\": \"slow\""), "{manifest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_curl_session() {
    let binary = quickstart_binary();
    let (_child, server) = start_app(Command::new(&binary)).await;

    // Paced like a human at a shell (the defaults include "1 per second").
    let pause = Duration::from_millis(1100);
    let first = server.get("/fast").await;
    assert_eq!((first.status, first.body.as_str()), (200, "42"));
    tokio::time::sleep(pause).await;
    let second = server.get("/fast").await;
    assert_eq!((second.status, second.body.as_str()), (200, "42"));
    tokio::time::sleep(pause).await;
    let third = server.get("/fast").await;
    assert_eq!(third.status, 429);
    assert_eq!(third.body, flask_429("2 per 1 minute"));
    assert_eq!(
        third.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    let slow = server.get("/slow").await;
    assert_eq!((slow.status, slow.body.as_str()), (200, "24"));
    let slow = server.get("/slow").await;
    assert_eq!(slow.status, 429);
    assert_eq!(slow.body, flask_429("1 per 1 day"));
    assert_eq!(
        slow.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    for _ in 0..4 {
        let ping = server.get("/ping").await;
        assert_eq!((ping.status, ping.body.as_str()), (200, "PONG"));
    }
}
