//! Lazy start: opening the storage without failing when its server is down, so that an app with
//! a fallback or fail-open configured starts during an outage (as Flask-Limiter's storages,
//! which connect lazily), and so that the `limiter` CLI can read an app's routes and
//! configuration without its storage.

use limiter_core::{Storage, StorageError};

/// Opens the storage `uri` names; with `lazy`, a Redis storage whose server cannot be reached
/// is returned anyway and connects in the background (see
/// [`RedisStorageBuilder::lazy`](limiter_core::RedisStorageBuilder::lazy)). Other backends open
/// as usual.
pub(crate) async fn connect(uri: &str, lazy: bool) -> Result<Storage, StorageError> {
    #[cfg(feature = "redis")]
    if lazy && is_redis(uri) {
        let storage = limiter_core::RedisStorage::builder(uri)
            .lazy(true)
            .build()
            .await?;
        return Ok(storage.into());
    }
    let _ = lazy;
    Storage::connect(uri).await
}

/// Whether `uri` names a Redis storage (standalone, cluster or sentinel).
#[cfg(feature = "redis")]
fn is_redis(uri: &str) -> bool {
    use limiter_core::StorageUri;
    matches!(
        StorageUri::parse(uri),
        Ok(StorageUri::Redis { .. }
            | StorageUri::RedisCluster { .. }
            | StorageUri::RedisSentinel { .. })
    )
}
