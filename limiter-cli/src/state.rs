//! Reading and clearing counters on the app's real storage.

use crate::error::CliError;
use crate::tree::{Node, Style};
use limiter_core::manifest::Manifest;
use limiter_core::model::LimitInfo;
use limiter_core::{RateLimiter, Storage, Strategy};
use std::time::Duration;

/// How long connecting to and checking the storage may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The app's storage, opened with its strategy and key prefix.
#[derive(Debug, Clone)]
pub struct Store {
    limiter: RateLimiter,
    key_prefix: String,
    uri: String,
}

/// The storage URI with any password masked.
pub fn shown_uri(manifest: &Manifest) -> String {
    limiter_core::uri::masked(&manifest.config.storage_uri)
}

/// Opens the app's storage and checks that it answers.
pub async fn connect(manifest: &Manifest) -> Result<Store, CliError> {
    let config = &manifest.config;
    let unavailable = |reason: String| CliError::StorageUnavailable {
        uri: shown_uri(manifest),
        reason,
    };
    if limiter_core::uri::is_masked(&config.storage_uri) {
        return Err(unavailable(
            "the app masks the storage password in its manifest: give limiter the real URI with \
             --storage-uri or RATELIMIT_STORAGE_URI"
                .to_owned(),
        ));
    }
    let strategy: Strategy = config
        .strategy
        .parse()
        .map_err(|error: limiter_core::UnknownStrategy| unavailable(error.to_string()))?;
    let storage =
        match tokio::time::timeout(CONNECT_TIMEOUT, Storage::connect(&config.storage_uri)).await {
            Ok(Ok(storage)) => storage,
            Ok(Err(error)) => return Err(unavailable(error.to_string())),
            Err(_) => {
                return Err(unavailable(format!(
                    "no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
        };
    match tokio::time::timeout(CONNECT_TIMEOUT, storage.check()).await {
        Ok(true) => {}
        Ok(false) => return Err(unavailable("the health check failed".to_owned())),
        Err(_) => {
            return Err(unavailable(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        }
    }
    let limiter = RateLimiter::new(strategy, storage).map_err(|e| unavailable(e.to_string()))?;
    Ok(Store {
        limiter,
        key_prefix: config.key_prefix.clone(),
        uri: shown_uri(manifest),
    })
}

/// One limit's state for one key (in JSON: `{"status": "pass", "remaining": R, "amount": N}`,
/// `fail` likewise, or `{"status": "unavailable" | "dynamic" | "skipped"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum State {
    /// One more request would pass.
    Pass {
        /// What is left.
        remaining: u64,
        /// The limit's amount.
        amount: u64,
    },
    /// One more request would be rejected.
    Fail {
        /// What is left.
        remaining: u64,
        /// The limit's amount.
        amount: u64,
    },
    /// The storage did not answer.
    Unavailable,
    /// The limit is computed per request: its counter cannot be named from here.
    Dynamic,
    /// The key is empty: the app does not limit such requests.
    Skipped,
}

impl State {
    /// Appends `: Pass (R out of N remaining)` & co to a limit line.
    pub fn annotate(self, node: &mut Node) {
        let (text, style) = match self {
            State::Pass { remaining, amount } => (
                format!(": Pass ({remaining} out of {amount} remaining)"),
                Style::Green,
            ),
            State::Fail { remaining, amount } => (
                format!(": Fail ({remaining} out of {amount} remaining)"),
                Style::Red,
            ),
            State::Unavailable => (": Storage not available".to_owned(), Style::Red),
            State::Dynamic => (": Unknown (dynamic limit)".to_owned(), Style::Plain),
            State::Skipped => (
                ": Skipped (empty key, not limited)".to_owned(),
                Style::Plain,
            ),
        };
        node.push_label(text, style);
    }
}

impl Store {
    /// The state of `limit` for `key`: `test` with cost 1 and the window's remaining amount,
    /// on the key the app writes (key prefix included where the app uses it).
    pub async fn state(&self, limit: &LimitInfo, key: &str) -> State {
        let Ok(rate) = limit.rate_limit() else {
            return State::Dynamic;
        };
        if limit.dynamic {
            return State::Dynamic;
        }
        let ids = limit.identifiers(&self.key_prefix, key);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let passes = match self.limiter.test(&rate, &ids, 1).await {
            Ok(passes) => passes,
            Err(_) => return State::Unavailable,
        };
        let remaining = match self.limiter.window_stats(&rate, &ids).await {
            Ok(stats) => stats.remaining,
            Err(_) => return State::Unavailable,
        };
        let amount = rate.amount();
        if passes {
            State::Pass { remaining, amount }
        } else {
            State::Fail { remaining, amount }
        }
    }

    /// Clears `limit`'s counter for `key`; `Ok(false)` for a dynamic limit, which cannot be
    /// named.
    pub async fn clear(&self, limit: &LimitInfo, key: &str) -> Result<bool, CliError> {
        let rate = match limit.rate_limit() {
            Ok(rate) if !limit.dynamic => rate,
            _ => return Ok(false),
        };
        let ids = limit.identifiers(&self.key_prefix, key);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.limiter
            .clear(&rate, &ids)
            .await
            .map_err(|error| CliError::StorageUnavailable {
                uri: self.uri.clone(),
                reason: error.to_string(),
            })?;
        Ok(true)
    }
}

/// Warns that a `memory://` storage cannot show the app's counters.
pub fn warn_if_memory(manifest: &Manifest) {
    if manifest
        .config
        .storage_uri
        .trim()
        .to_ascii_lowercase()
        .starts_with("memory:")
    {
        eprintln!(
            "note: the app's storage is memory://, which lives inside the app process: the \
             counters shown are this command's own, always full"
        );
    }
}
