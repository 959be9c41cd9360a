//! The fixed window on memcached: one `incr` per hit, and the window's end in an `/expires`
//! companion key (see the [module documentation](super#strategies)).

use super::keys::OwnedHit;
use super::operations::{parse_count, Inner};
use crate::clock::Timestamp;
use crate::storage::error::StorageError;
use crate::strategy::{Decision, WindowStats};

impl Inner {
    pub(super) fn fixed_acquire(&self, hit: &OwnedHit) -> Result<Decision, StorageError> {
        let now = self.now();
        let count = self.incr_or_create(&hit.key, hit.cost, hit.expiry_secs)?;
        let expires_key = hit.expires_key();
        let reset_at = if count == hit.cost {
            // This hit opened the window: record when it ends.
            let end = now.saturating_add(hit.expiry_nanos());
            let seconds = format!("{:.6}", Timestamp::from_nanos(end).as_secs_f64());
            let ttl = u32::try_from(hit.expiry_secs).unwrap_or(u32::MAX);
            self.server_for(&expires_key)
                .call(|client| client.set(&expires_key, seconds.as_str(), ttl))?;
            self.window_ends.remember(&hit.key, end, now);
            end
        } else if let Some(end) = self.window_ends.recall(&hit.key, now) {
            end
        } else {
            let end = self.read_expiry(&expires_key, now)?;
            self.window_ends.remember(&hit.key, end, now);
            end
        };
        Ok(Decision {
            allowed: count <= hit.amount,
            remaining: hit.amount.saturating_sub(count),
            reset_at: Timestamp::from_nanos(reset_at),
        })
    }

    /// The window end recorded in the `/expires` companion, or `now` without one (as Python).
    fn read_expiry(&self, expires_key: &str, now: u64) -> Result<u64, StorageError> {
        let value: Option<String> = self
            .server_for(expires_key)
            .call(|client| client.get(expires_key))?;
        Ok(value.as_deref().and_then(parse_epoch).unwrap_or(now))
    }

    /// What is left of the window and when it ends, from the counter and its companion.
    pub(super) fn fixed_window_stats(&self, hit: &OwnedHit) -> Result<WindowStats, StorageError> {
        let now = self.now();
        let expires_key = hit.expires_key();
        let values = self.get_many(&[&hit.key, &expires_key])?;
        let count = values
            .get(&hit.key)
            .map_or(Ok(0), |value| parse_count(&hit.key, value))?;
        let reset_at = match count {
            0 => now,
            _ => values
                .get(&expires_key)
                .and_then(|value| parse_epoch(value))
                .unwrap_or(now),
        };
        Ok(WindowStats {
            remaining: hit.amount.saturating_sub(count),
            reset_at: Timestamp::from_nanos(reset_at),
        })
    }
}

/// Float epoch seconds (the `/expires` companion) to nanoseconds; `None` if unreadable.
fn parse_epoch(value: &str) -> Option<u64> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Timestamp::from_secs_f64(seconds).as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_parsing_never_panics() {
        assert_eq!(parse_epoch("1.5"), Some(1_500_000_000));
        assert_eq!(parse_epoch("nan"), None);
        assert_eq!(parse_epoch("-3"), None);
        assert_eq!(parse_epoch("garbage"), None);
    }
}
