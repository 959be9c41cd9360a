//! An app under test in a process of its own (an example binary, a test app): started on a free
//! port, waited for until it listens, killed when the test ends.

use crate::{free_port, Server};
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::Duration;

/// A child process, killed and reaped when dropped (also when the test panics).
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` with `PORT` set to a free port and waits (up to 10 s) until it accepts
/// connections: the running process and a client for it.
///
/// # Panics
///
/// When the process cannot be started or does not listen in time.
pub async fn start_app(mut command: Command) -> (Running, Server) {
    let port = free_port();
    let running = Running(
        command
            .env("PORT", port.to_string())
            .spawn()
            .unwrap_or_else(|error| panic!("start {command:?}: {error}")),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return (running, Server::at(addr));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{command:?} did not listen on {addr} within 10 s");
}
