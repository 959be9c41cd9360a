//! A key of another strategy (`WRONGTYPE`): after a deployment changes its strategy, the keys of
//! the old one (a list where a counter is expected, or the reverse; fixed and moving windows
//! name their keys alike, as in `limits`) would fail every script call that touches them until
//! they expire. Such a key is removed, with a warning, and the call made again once.

use super::errors::backend_error;
use super::storage::RedisStorage;
use crate::storage::error::StorageError;
use crate::storage::hit::Hit;
use crate::strategy::Strategy;

/// Whether `error` is the server's `WRONGTYPE` (alone, or inside a script's error).
pub(super) fn is_wrong_type(error: &StorageError) -> bool {
    match error {
        StorageError::Backend { source, .. } => source.to_string().contains("WRONGTYPE"),
        _ => false,
    }
}

/// The Redis type of the keys `strategy` writes.
fn key_type(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::MovingWindow => "list",
        Strategy::FixedWindow | Strategy::SlidingWindowCounter | Strategy::Gcra { .. } => "string",
    }
}

impl RedisStorage {
    /// Removes the keys of `hits` that exist with another type than `strategy` writes, with a
    /// warning naming each; `true` if any was removed.
    pub(super) async fn remove_wrong_types(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
    ) -> Result<bool, StorageError> {
        let expected = key_type(strategy);
        let mut removed = false;
        for hit in hits {
            let keys = Self::keys_for(&self.inner.key_prefix, strategy, hit.limit, hit.identifiers);
            for key in keys {
                let found = self
                    .bounded(self.query(redis::cmd("TYPE").arg(&key)))
                    .await?;
                let found: String = redis::from_redis_value(found)
                    .map_err(|error| backend_error(self.inner.backend, error))?;
                if found != expected && found != "none" {
                    tracing::warn!(
                        key = %key,
                        found = %found,
                        strategy = %strategy,
                        "rate limit key of another strategy (a {found} where the {strategy} \
                         strategy keeps a {expected}): removed, its counter starts again"
                    );
                    self.bounded(self.query(redis::cmd("DEL").arg(&key)))
                        .await?;
                    removed = true;
                }
            }
        }
        Ok(removed)
    }
}
