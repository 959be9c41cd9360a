//! Configuring and opening a [`RedisStorage`].

use super::batch;
use super::connection::{connect, TlsCertificates};
use super::errors::bounded;
use super::lease::{self, Leases};
use super::storage::{Inner, RedisStorage};
use crate::storage::error::StorageError;
use crate::storage::lease::LeaseConfig;
use crate::storage::over_limit::{OverLimitCache, DEFAULT_OVER_LIMIT_CAPACITY};
use crate::uri::StorageUri;
use std::sync::Arc;
use std::time::Duration;

/// The key prefix of `limits` (`LIMITS:LIMITER/…`), used unless configured otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "LIMITS";

/// How long one storage operation (or connecting) may take before it fails with
/// [`StorageError::Timeout`], unless configured otherwise: 1 second. A rate limiter must not hold
/// requests for long when its storage is unwell, but a loaded server or a failover can take a few
/// hundred milliseconds; lower it if your application would rather fail fast.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// Configures a [`RedisStorage`]; see [`RedisStorage::builder`].
#[derive(Debug, Clone)]
pub struct RedisStorageBuilder {
    uri: String,
    key_prefix: String,
    timeout: Duration,
    /// Certificates for TLS; its `Debug` never prints their contents.
    tls: Option<TlsCertificates>,
    over_limit_capacity: Option<usize>,
    lease: Option<LeaseConfig>,
}

impl RedisStorageBuilder {
    /// The prefix of every key, `{prefix}:{limits key}`. Defaults to [`DEFAULT_KEY_PREFIX`]
    /// (`LIMITS`), as `limits`' `key_prefix` option; keep it equal to the Python side's to share
    /// counters with it.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The longest one operation (or connecting) may take. Defaults to [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts only the CA certificate(s) in `pem` (PEM, one or more `BEGIN CERTIFICATE` blocks)
    /// for the server's certificate, instead of the platform's root certificates: the option for
    /// a private CA. The equivalent of Python's `?ssl_ca_certs=/path/ca.pem` is
    /// `.tls_root_certificates(std::fs::read("/path/ca.pem")?)`. Malformed PEM fails at
    /// [`build`](Self::build) with [`StorageError::Backend`].
    ///
    /// Only for TLS URIs (`rediss://`, `valkeys://`, a cluster of `rediss` nodes): with any
    /// other URI, [`build`](Self::build) fails with [`StorageError::Backend`] rather than
    /// silently connecting without TLS. See [TLS](super#tls).
    ///
    /// ```no_run
    /// use limiter_core::storage::RedisStorage;
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let storage = RedisStorage::builder("rediss://redis.internal:6380/0")
    ///     .tls_root_certificates(std::fs::read("/etc/redis/ca.pem")?)
    ///     .build()
    ///     .await?;
    /// # let _ = storage;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls
            .get_or_insert(redis::TlsCertificates {
                client_tls: None,
                root_cert: None,
            })
            .root_cert = Some(pem.into());
        self
    }

    /// Presents this client certificate chain and its private key (both PEM) to the server, for
    /// servers that require mutual TLS (`tls-auth-clients yes`); Python's `ssl_certfile` and
    /// `ssl_keyfile`. The server is still verified against the platform roots, or against
    /// [`tls_root_certificates`](Self::tls_root_certificates) when given. Same URI rule as
    /// [`tls_root_certificates`](Self::tls_root_certificates); a malformed certificate or key
    /// fails at [`build`](Self::build) with [`StorageError::Backend`].
    #[cfg(feature = "tls")]
    pub fn tls_client_certificate(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        private_key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls
            .get_or_insert(redis::TlsCertificates {
                client_tls: None,
                root_cert: None,
            })
            .client_tls = Some(redis::ClientTlsConfig {
            client_cert: certificate_pem.into(),
            client_key: private_key_pem.into(),
        });
        self
    }

    /// Whether to keep the over-limit cache: keys this process saw rejected with nothing left of
    /// their limit, answered as rejected without a round trip until their `reset_at` (for at most
    /// [`DEFAULT_OVER_LIMIT_CAPACITY`] keys). Under attack, the 429 path then does not touch Redis
    /// at all; decisions are unchanged.
    ///
    /// **Off by default**, because of its one visible effect: an operator's `limiter clear` (run
    /// in another process) would not free a cached client until its window resets, while
    /// Flask-Limiter users expect a clear to take effect at once. Turn it on for deployments
    /// that value shedding abusive traffic over immediate clears.
    ///
    /// [`Storage::clear`](crate::Storage::clear) and [`Storage::reset`](crate::Storage::reset)
    /// through this storage drop the matching entries; a `clear` or `reset` from another process
    /// (e.g. the CLI) is seen here only once each cached `reset_at` passes. With the fixed window,
    /// `limits` counts rejected hits on the server; the hits this cache answers are not sent, so
    /// the server's counter stays lower, which changes no decision (the window's expiry is the
    /// same and a full counter rejects alike). Turn the cache off if something reads the raw
    /// counters, or if a `clear` made elsewhere must take effect at once.
    ///
    /// ```
    /// # #[cfg(feature = "redis")] {
    /// let builder = limiter_core::storage::RedisStorage::builder("redis://127.0.0.1:6379")
    ///     .over_limit_cache(true);
    /// # let _ = builder;
    /// # }
    /// ```
    pub fn over_limit_cache(mut self, enabled: bool) -> Self {
        self.over_limit_capacity = enabled.then_some(DEFAULT_OVER_LIMIT_CAPACITY);
        self
    }

    /// Keeps the over-limit cache (see [`over_limit_cache`](Self::over_limit_cache)) and bounds
    /// it to about `capacity` keys (rounded up to a multiple of 64, about 32 bytes each); `0`
    /// turns it off. A key that does not fit is simply not cached: it goes to the server.
    pub fn over_limit_capacity(mut self, capacity: usize) -> Self {
        self.over_limit_capacity = (capacity > 0).then_some(capacity);
        self
    }

    /// Turns on [lease mode](crate::storage::lease) for fixed-window limits: each key's hits are
    /// spent out of a share of its budget taken from the server in one call, handed back when
    /// the lease ends. Never admits more than a limit; with `N` instances, may reject up to
    /// `N ×` [`max_units`](LeaseConfig::max_units) hits of a window that exact mode would
    /// admit. Off by default (exact mode: one script call per batch of requests).
    ///
    /// ```
    /// # #[cfg(feature = "redis")] {
    /// use limiter_core::storage::{LeaseConfig, RedisStorage};
    /// let builder = RedisStorage::builder("redis://127.0.0.1:6379")
    ///     .lease(LeaseConfig::default().max_units(50));
    /// # let _ = builder;
    /// # }
    /// ```
    pub fn lease(mut self, config: LeaseConfig) -> Self {
        self.lease = Some(config);
        self
    }

    /// Connects (within the timeout) and returns the storage. For a sentinel URI, the master is
    /// asked of the sentinels first.
    pub async fn build(self) -> Result<RedisStorage, StorageError> {
        let parsed = StorageUri::parse(&self.uri)?;
        let backend = parsed.scheme_name();
        #[cfg(not(feature = "tls"))]
        if matches!(backend, "rediss" | "valkeys") {
            return Err(crate::storage::error::not_built(backend));
        }
        let timeout = self.timeout;
        let connection = bounded(backend, timeout, connect(parsed, timeout, self.tls)).await?;
        let coalesce = !connection.is_cluster();
        let lease_config = self.lease;
        let storage = RedisStorage {
            inner: Arc::new_cyclic(|inner| Inner {
                connection,
                key_prefix: self.key_prefix,
                timeout,
                backend,
                over_limit: self.over_limit_capacity.map(OverLimitCache::new),
                batcher: coalesce
                    .then(|| batch::Batcher::start(inner.clone()))
                    .flatten(),
                leases: lease_config.map(Leases::new),
            }),
        };
        if let Some(config) = lease_config {
            lease::start_sweep(Arc::downgrade(&storage.inner), config.lease_duration());
        }
        Ok(storage)
    }
}

impl RedisStorage {
    /// Starts configuring a storage for `uri` (`redis://…`, `rediss://…`, `redis+unix://…`,
    /// `redis+cluster://…`, `redis+sentinel://…/service`, or a `valkey…` alias).
    pub fn builder(uri: impl Into<String>) -> RedisStorageBuilder {
        RedisStorageBuilder {
            uri: uri.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            tls: None,
            over_limit_capacity: None,
            lease: None,
        }
    }

    /// Connects to `uri` with the default prefix and timeout.
    pub async fn connect(uri: impl Into<String>) -> Result<RedisStorage, StorageError> {
        RedisStorage::builder(uri).build().await
    }
}
