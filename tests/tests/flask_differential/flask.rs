//! The Flask side: one Python process (`tests/flask/differential_app.py`) per test, which builds
//! and serves an app per [`AppSpec`] it is sent.

use crate::spec::AppSpec;
use limiter_tests::Server;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const APP_BUILDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flask/differential_app.py");

/// Checks that `python` has Flask-Limiter 4.1.1 and limits 5.8.0: `Err(why)` otherwise.
pub fn probe(python: &str) -> Result<(), String> {
    let output = std::process::Command::new(python)
        .args([
            "-c",
            "import flask_limiter, limits; \
             assert flask_limiter.__version__ == '4.1.1', flask_limiter.__version__; \
             assert limits.__version__ == '5.8.0', limits.__version__",
        ])
        .output()
        .map_err(|error| format!("cannot run {python}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        Err(format!(
            "{python} has no Flask-Limiter==4.1.1 with limits==5.8.0 ({last}); scripts/test installs them"
        ))
    }
}

/// The Python process serving the Flask apps of one test.
pub struct Flask {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Flask {
    /// Starts the app builder with `python`.
    pub fn start(python: &str) -> Flask {
        let mut child = Command::new(python)
            .arg(APP_BUILDER)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("start {python} {APP_BUILDER}: {error}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Flask {
            _child: child,
            stdin,
            stdout,
        }
    }

    /// Builds and serves the Flask app of `spec`.
    pub async fn serve(&mut self, spec: &AppSpec) -> Server {
        let mut line = serde_json::to_string(spec).expect("serialize the app");
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the Flask app builder");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .await
            .expect("read from the Flask app builder");
        assert!(!answer.is_empty(), "the Flask app builder exited");
        let port: u16 = answer
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the Flask app builder: {}", answer.trim()));
        Server::at(SocketAddr::from(([127, 0, 0, 1], port)))
    }
}
