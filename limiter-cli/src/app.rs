//! Loading the app's manifest: by running the app binary with `LIMITER_INSPECT=manifest`, or
//! from a saved file.

use crate::error::CliError;
use limiter_core::manifest::{Manifest, INSPECT_ENV, INSPECT_VALUE};
use limiter_core::Strategy;
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// How long an app may take to print its manifest.
const APP_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the manifest comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The app binary, run with `LIMITER_INSPECT=manifest`.
    App(PathBuf),
    /// A saved manifest file, `-` for stdin.
    Manifest(PathBuf),
}

/// Reads and checks the manifest.
pub async fn load(source: &Source) -> Result<Manifest, CliError> {
    let (origin, text) = match source {
        Source::App(path) => (format!("app {}", path.display()), run_app(path).await?),
        Source::Manifest(path) => (format!("{}", path.display()), read_file(path).await?),
    };
    let manifest = Manifest::from_json(&text).map_err(|source| CliError::InvalidManifest {
        origin: origin.clone(),
        source,
    })?;
    if let Err(error) = manifest.config.strategy.parse::<Strategy>() {
        return Err(CliError::BadManifest {
            origin,
            detail: error.to_string(),
        });
    }
    Ok(manifest)
}

async fn read_file(path: &PathBuf) -> Result<String, CliError> {
    let shown = path.display().to_string();
    let result = if shown == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(path)
    };
    result.map_err(|source| CliError::ReadManifest {
        path: shown,
        source,
    })
}

async fn run_app(path: &PathBuf) -> Result<String, CliError> {
    let shown = path.display().to_string();
    let child = tokio::process::Command::new(path)
        .env(INSPECT_ENV, INSPECT_VALUE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| CliError::AppSpawn {
            path: shown.clone(),
            source,
        })?;
    let output = match tokio::time::timeout(APP_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.map_err(|source| CliError::AppSpawn {
            path: shown.clone(),
            source,
        })?,
        Err(_) => {
            return Err(CliError::AppTimeout {
                path: shown,
                seconds: APP_TIMEOUT.as_secs(),
            })
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim_end();
        // The last lines are where the reason usually is.
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let status = match output.status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_owned(),
        };
        return Err(CliError::AppFailed {
            path: shown,
            status,
            stderr: if tail.is_empty() {
                String::new()
            } else {
                format!("; its stderr ends with:\n{}", tail.join("\n"))
            },
        });
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if text.trim().is_empty() {
        return Err(CliError::NoManifest { path: shown });
    }
    Ok(text)
}
