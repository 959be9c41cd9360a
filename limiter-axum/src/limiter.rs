//! [`Limiter`]: the handle on a built limiter, what `Router::with_limiter` is given and what the
//! CLI and inspection read.

use crate::core::Core;
use crate::registry::{ConfigInfo, RouteInfo};
use limiter_core::{RateLimiter, StorageError};
use parking_lot::Mutex;
use std::sync::Arc;

/// A built rate limiter: give it a [`Router`](crate::Router) with
/// [`Router::with_limiter`](crate::Router::with_limiter). Cloning is cheap and shares everything.
///
/// Configure one with [`Limiter::new`], which returns a [`LimiterBuilder`](crate::LimiterBuilder).
#[derive(Clone)]
pub struct Limiter {
    pub(crate) core: Arc<Core>,
    /// Every route resolved against this limiter (what [`routes`](Self::routes) lists).
    pub(crate) routes: Arc<Mutex<Vec<RouteInfo>>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// The limiter's configuration, for `limiter config` and logs.
    pub fn config(&self) -> ConfigInfo {
        crate::registry::config_info(&self.core)
    }

    /// Every route of the routers given to [`Router::with_limiter`](crate::Router::with_limiter),
    /// with its resolved limits, sorted by path: what `limiter limits` prints.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let mut routes = self.routes.lock().clone();
        routes.sort_by(|a, b| a.path.cmp(&b.path).then(a.endpoint.cmp(&b.endpoint)));
        routes
    }

    /// The underlying strategy and storage (for `limiter clear` and inspection).
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.core.primary
    }

    /// Forgets every counter of the storage.
    pub async fn reset(&self) -> Result<Option<u64>, StorageError> {
        self.core.primary.storage().reset().await
    }

    /// Whether the primary storage is currently considered down (the fallback is in use).
    pub fn storage_dead(&self) -> bool {
        self.core.failover.is_down()
    }
}
