//! The storage's shared state and the operations a blocking job runs on it: reads, counted
//! writes, and each strategy's steps (in `fixed_window.rs`, `sliding_window.rs`, `gcra.rs`).

use super::error::{backend_error, UnexpectedValue};
use super::keys::OwnedHit;
use super::placement;
use super::server::Server;
use super::window_ends::WindowEnds;
use crate::clock::Timestamp;
use crate::storage::error::StorageError;
use crate::strategy::Strategy;
use crate::strategy::{Decision, WindowStats};
use memcache::{CommandError, MemcacheError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub(super) struct Inner {
    pub(super) servers: Vec<Server>,
    pub(super) timeout: Duration,
    pub(super) pool_size: u32,
    /// Bounds the blocking jobs in flight.
    pub(super) permits: Arc<Semaphore>,
    /// Fixed-window ends already known, so that a hit costs one round trip.
    pub(super) window_ends: WindowEnds,
}

impl Inner {
    /// The precise wall clock: a network round trip dwarfs its cost, and reset times read back
    /// by clients must not lag the real time by the coarse clock's few milliseconds.
    pub(super) fn now(&self) -> u64 {
        Timestamp::from(std::time::SystemTime::now()).as_nanos()
    }

    /// The server that holds `key`.
    pub(super) fn server_for(&self, key: &str) -> &Server {
        placement::server_for(&self.servers, key)
    }

    pub(super) fn get_count(&self, key: &str) -> Result<u64, StorageError> {
        let value: Option<String> = self.server_for(key).call(|client| client.get(key))?;
        value.map_or(Ok(0), |value| parse_count(key, &value))
    }

    /// The values of `keys`, one multi-get per server involved.
    pub(super) fn get_many(&self, keys: &[&str]) -> Result<HashMap<String, String>, StorageError> {
        let mut by_server: Vec<(&Server, Vec<&str>)> = Vec::new();
        for key in keys {
            let server = self.server_for(key);
            match by_server
                .iter_mut()
                .find(|(known, _)| std::ptr::eq(*known, server))
            {
                Some((_, keys)) => keys.push(key),
                None => by_server.push((server, vec![key])),
            }
        }
        let mut values = HashMap::new();
        for (server, keys) in by_server {
            values.extend(server.call(|client| client.gets::<String>(&keys))?);
        }
        Ok(values)
    }

    /// `incr key delta`; on a miss `add key 0` with `ttl` and `incr` again. Returns the count.
    pub(super) fn incr_or_create(
        &self,
        key: &str,
        delta: u64,
        ttl: u64,
    ) -> Result<u64, StorageError> {
        let server = self.server_for(key);
        let ttl = u32::try_from(ttl).unwrap_or(u32::MAX);
        // A key can expire between `add` and `incr`; a few attempts are plenty.
        for _ in 0..3 {
            match server.call_allowing_miss(|client| client.increment(key, delta))? {
                Some(count) => return Ok(count),
                None => server.call(|client| client.add(key, "0", ttl))?,
            }
        }
        Err(backend_error(MemcacheError::CommandError(
            CommandError::KeyNotFound,
        )))
    }

    pub(super) fn acquire(
        &self,
        strategy: Strategy,
        hit: &OwnedHit,
    ) -> Result<Decision, StorageError> {
        match strategy {
            Strategy::SlidingWindowCounter => self.sliding_acquire(hit),
            Strategy::Gcra { burst } => self.gcra_acquire(hit, burst),
            _ => self.fixed_acquire(hit),
        }
    }

    pub(super) fn test(&self, strategy: Strategy, hit: &OwnedHit) -> Result<bool, StorageError> {
        match strategy {
            Strategy::SlidingWindowCounter => self.sliding_test(hit),
            Strategy::Gcra { burst } => self.gcra_test(hit, burst),
            _ => Ok(self.get_count(&hit.key)?.saturating_add(hit.cost) <= hit.amount),
        }
    }

    pub(super) fn window_stats(
        &self,
        strategy: Strategy,
        hit: &OwnedHit,
    ) -> Result<WindowStats, StorageError> {
        match strategy {
            Strategy::SlidingWindowCounter => self.sliding_window_stats(hit),
            Strategy::Gcra { burst } => self.gcra_window_stats(hit, burst),
            _ => self.fixed_window_stats(hit),
        }
    }

    pub(super) fn clear(&self, hit: &OwnedHit) -> Result<(), StorageError> {
        self.window_ends.forget(&hit.key);
        let bucket = self.now() / hit.expiry_nanos();
        let keys = [
            hit.key.clone(),
            hit.expires_key(),
            hit.bucket_key(bucket),
            hit.bucket_key(bucket.wrapping_sub(1)),
        ];
        for key in &keys {
            self.server_for(key).call(|client| client.delete(key))?;
        }
        self.gcra_clear(hit)
    }
}

pub(super) fn parse_count(key: &str, value: &str) -> Result<u64, StorageError> {
    value.trim().parse::<u64>().map_err(|_| {
        backend_error(UnexpectedValue {
            key: key.to_owned(),
            value: value.chars().take(64).collect(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_parsed_strictly() {
        assert!(parse_count("k", "12x").is_err());
        assert_eq!(parse_count("k", "12").ok(), Some(12));
    }
}
