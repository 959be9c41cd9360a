//! One memcached server: its connection pool, replaced after errors, and its errors.

use super::error::{backend_error, ServerError, BACKEND};
use crate::storage::error::StorageError;
use crate::uri::MemcachedServer;
use memcache::{CommandError, MemcacheError};
use parking_lot::RwLock;
use std::sync::Arc;
use std::time::Duration;

/// One memcached server: its name for hashing and its connection pool, replaced after errors.
pub(super) struct Server {
    pub(super) name: String,
    url: memcache::Url,
    timeout: Duration,
    pool_size: u32,
    client: RwLock<Arc<memcache::Client>>,
}

impl Server {
    pub(super) fn new(
        server: &MemcachedServer,
        timeout: Duration,
        pool_size: u32,
    ) -> Result<Self, StorageError> {
        let seconds = timeout.as_secs_f64().max(0.001);
        let (name, url) = match server {
            MemcachedServer::Tcp(location) => {
                // pymemcache names a server "%s:%s" % (host, port): no brackets around IPv6.
                let name = format!("{}:{}", location.host, location.port);
                let url = format!(
                    "memcache://{location}?protocol=ascii&tcp_nodelay=true&timeout={seconds}"
                );
                (name, url)
            }
            MemcachedServer::Socket(path) => {
                let name = path.display().to_string();
                let mut url =
                    memcache::Url::parse("memcache:///?protocol=ascii").map_err(backend_error)?;
                url.set_path(&name);
                (name, url.to_string())
            }
        };
        let url = memcache::Url::parse(&url).map_err(backend_error)?;
        let client = Arc::new(new_client(&url, timeout, pool_size)?);
        Ok(Server {
            name,
            url,
            timeout,
            pool_size,
            client: RwLock::new(client),
        })
    }

    /// Runs one command. After an error other than a command-level answer, the pool is
    /// replaced so that no connection in an unknown state is reused.
    pub(super) fn call<T>(
        &self,
        command: impl FnOnce(&memcache::Client) -> Result<T, MemcacheError>,
    ) -> Result<T, StorageError> {
        let client = Arc::clone(&self.client.read());
        match command(&client) {
            Ok(value) => Ok(value),
            Err(error) => {
                self.after_error(&error, &client);
                Err(self.storage_error(error))
            }
        }
    }

    /// Like [`call`](Self::call), with a miss (`NOT_FOUND`) as `None`.
    pub(super) fn call_allowing_miss<T>(
        &self,
        command: impl FnOnce(&memcache::Client) -> Result<T, MemcacheError>,
    ) -> Result<Option<T>, StorageError> {
        let client = Arc::clone(&self.client.read());
        match command(&client) {
            Ok(value) => Ok(Some(value)),
            Err(MemcacheError::CommandError(CommandError::KeyNotFound)) => Ok(None),
            Err(error) => {
                self.after_error(&error, &client);
                Err(self.storage_error(error))
            }
        }
    }

    /// Replaces the pool after an error that may leave a connection out of step with the
    /// server (I/O, unreadable answer). Not after a command-level answer (`NOT_FOUND`, …), nor
    /// when no connection could be had (the pool then holds no bad connection).
    fn after_error(&self, error: &MemcacheError, client: &Arc<memcache::Client>) {
        if !matches!(
            error,
            MemcacheError::CommandError(_) | MemcacheError::PoolError(_)
        ) {
            self.replace_pool(client);
        }
    }

    fn replace_pool(&self, failed: &Arc<memcache::Client>) {
        let mut current = self.client.write();
        // Another thread may already have replaced it.
        if Arc::ptr_eq(&current, failed) {
            if let Ok(client) = new_client(&self.url, self.timeout, self.pool_size) {
                *current = Arc::new(client);
            }
        }
    }

    fn storage_error(&self, error: MemcacheError) -> StorageError {
        if let MemcacheError::IOError(io) = &error {
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return StorageError::Timeout {
                    backend: BACKEND,
                    timeout: self.timeout,
                };
            }
        }
        backend_error(ServerError {
            server: self.name.clone(),
            error,
        })
    }
}

/// A client on a fresh pool: connections are opened on demand (none at creation), checked out
/// within `timeout`, and not health-checked on checkout (errors replace the pool instead).
fn new_client(
    url: &memcache::Url,
    timeout: Duration,
    pool_size: u32,
) -> Result<memcache::Client, StorageError> {
    let pool = r2d2::Pool::builder()
        .max_size(pool_size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build_unchecked(memcache::ConnectionManager::new(url.clone()));
    memcache::Client::with_pool(pool).map_err(backend_error)
}
