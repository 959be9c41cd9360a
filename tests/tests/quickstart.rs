//! The README's curl session, against the real `examples/quickstart` binary over real HTTP.

use limiter_tests::{flask_429, Server};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn quickstart_binary() -> PathBuf {
    // Build the example with the same cargo and target directory as this test.
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "quickstart"])
        .status()
        .expect("cargo build -p quickstart");
    assert!(status.success());
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join(format!("quickstart{}", std::env::consts::EXE_SUFFIX))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_curl_session() {
    let binary = quickstart_binary();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _child = Running(
        Command::new(&binary)
            .env("PORT", port.to_string())
            .spawn()
            .expect("start quickstart"),
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = Server::at(addr);

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
