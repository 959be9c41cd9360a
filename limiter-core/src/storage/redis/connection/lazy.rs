//! A connection opened in the background: the storage of a limiter that must start while its
//! Redis is down (lazy start). Until the connection is open every command fails at once, so the
//! caller's circuit breaker and failure mode take over without waiting.

use super::Connection;
use redis::{RedisError, RedisResult};
use std::future::Future;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// The pauses between connection attempts, in seconds: 1, 2, 4 … 32, then 32.
const RETRY_STEPS: [u64; 6] = [1, 2, 4, 8, 16, 32];

/// The connection, once a background attempt opened it.
#[derive(Debug)]
pub(crate) struct Pending {
    opened: OnceLock<Connection>,
    /// Whether the URI names a cluster (known before connecting).
    cluster: bool,
}

impl Pending {
    /// The connection, if open.
    pub(super) fn get(&self) -> Option<&Connection> {
        self.opened.get()
    }

    /// Whether the URI names a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        self.cluster
    }
}

/// The error of a command sent before the connection is open.
pub(crate) fn not_connected() -> RedisError {
    RedisError::from((
        redis::ErrorKind::Io,
        "not connected yet",
        "the storage started without its server (lazy start) and connects in the background"
            .to_owned(),
    ))
}

/// A connection that `open` (one attempt, classified and bounded by the caller) opens in the
/// background, retried with back-off until it succeeds or the storage is dropped. Each failure
/// whose message differs from the previous one is logged once.
pub(crate) fn spawn<F, Fut>(cluster: bool, open: F) -> Arc<Pending>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Connection, String>> + Send + 'static,
{
    let pending = Arc::new(Pending {
        opened: OnceLock::new(),
        cluster,
    });
    let weak: Weak<Pending> = Arc::downgrade(&pending);
    tokio::spawn(async move {
        let mut last_error = String::new();
        for step in 0usize.. {
            let pause = RETRY_STEPS[step.min(RETRY_STEPS.len() - 1)];
            tokio::time::sleep(Duration::from_secs(pause)).await;
            if weak.strong_count() == 0 {
                return;
            }
            match open().await {
                Ok(connection) => {
                    if let Some(pending) = weak.upgrade() {
                        tracing::info!("rate limit storage connected (lazy start)");
                        let _ = pending.opened.set(connection);
                    }
                    return;
                }
                Err(error) if error != last_error => {
                    tracing::warn!(%error, "rate limit storage still unreachable; retrying");
                    last_error = error;
                }
                Err(_) => {}
            }
        }
    });
    pending
}

/// Sends `cmd` through the opened connection, or fails at once.
pub(super) async fn query(pending: &Pending, cmd: &redis::Cmd) -> RedisResult<redis::Value> {
    match pending.get() {
        Some(connection) => connection.query_open(cmd).await,
        None => Err(not_connected()),
    }
}
