//! Configuring and opening a [`RedisStorage`].

use super::batch;
use super::connection::{
    connect, query_timeouts, spawn_pending, Connection, Timeouts, TlsCertificates,
};
use super::errors::{backend_error, connect_error, connect_timeout};
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
    /// Set by [`timeout`](RedisStorageBuilder::timeout); else the URI's, else the default.
    timeout: Option<Duration>,
    /// Set by [`connect_timeout`](RedisStorageBuilder::connect_timeout); else the URI's, else
    /// the command timeout.
    connect_timeout: Option<Duration>,
    /// Certificates for TLS; its `Debug` never prints their contents.
    tls: Option<TlsCertificates>,
    over_limit_capacity: Option<usize>,
    lazy: bool,
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

    /// The longest one operation may take (and connecting, unless
    /// [`connect_timeout`](Self::connect_timeout) is set). Defaults to the URI's
    /// `socket_timeout` query parameter (seconds, redis-py's name: `?socket_timeout=0.25`), else
    /// [`DEFAULT_TIMEOUT`]; this setting wins over the URI.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The longest connecting may take, start-up proof included (the first connection, `AUTH`,
    /// `SELECT`, `PING`, loading the scripts). Defaults to the URI's `socket_connect_timeout`
    /// query parameter (seconds), else the command [`timeout`](Self::timeout); this setting wins
    /// over the URI.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
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

    /// Lazy start: when opening fails with [`StorageError::Connect`] (the server is down,
    /// refuses the credentials, …), [`build`](Self::build) logs the cause (a `tracing` warning)
    /// and returns the storage anyway; it connects in the background, retrying 1, 2, 4 … 32 s
    /// apart. Until then every operation fails at once with [`StorageError::Backend`] ("not
    /// connected yet"), for the caller's fallback or failure mode to answer. Off by default: a
    /// storage that cannot be opened is a start-up error. Configuration errors fail `build`
    /// either way. Flask-Limiter's storages connect lazily too.
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }

    /// Turns on [lease mode](crate::storage::lease) for fixed-window limits: each key's hits are
    /// spent out of a share of its budget taken from the server in one call, handed back when
    /// the lease ends. Never admits more than a limit; with `N` instances, may reject up to
    /// `N × 2 ×` [`max_units`](LeaseConfig::max_units) hits of a window that exact mode would
    /// admit (`N ×` `max_units` without [taking ahead](LeaseConfig::prefetch)). Off by default
    /// (exact mode: one script call per batch of requests).
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

    /// Connects (within the connect timeout), proves the server usable with real commands
    /// (`AUTH` and `SELECT` as the URI asks, `PING`, and on a standalone server loading the
    /// scripts) and returns the storage. For a sentinel URI, the master is asked of the sentinels
    /// first.
    ///
    /// A server that cannot be used fails here with [`StorageError::Connect`], whose
    /// [`ConnectFailure`](crate::ConnectFailure) tells a refused connection, an authentication
    /// failure, a bad database, a timeout and a TLS failure apart (the URI in its message has its
    /// password masked); a configuration the client refuses before connecting (certificates
    /// without TLS, `#insecure`, a bad `socket_timeout`) fails with [`StorageError::Backend`].
    pub async fn build(self) -> Result<RedisStorage, StorageError> {
        let parsed = StorageUri::parse(&self.uri)?;
        let backend = parsed.scheme_name();
        #[cfg(not(feature = "tls"))]
        if matches!(backend, "rediss" | "valkeys") {
            return Err(crate::storage::error::not_built(backend));
        }
        let from_query =
            query_timeouts(&self.uri).map_err(|message| backend_error(backend, message))?;
        let timeout = self
            .timeout
            .or(from_query.command)
            .unwrap_or(DEFAULT_TIMEOUT);
        let timeouts = Timeouts {
            connect: self
                .connect_timeout
                .or(from_query.connect)
                .unwrap_or(timeout),
            command: timeout,
        };
        // Boxed, once at start-up: the client's connect futures nest deep, and inline they took
        // the layout of every future awaiting `build` (the app's `main` included) to about 100
        // of rustc's 128 query levels, past them with a few more layers or another toolchain.
        let opening = Box::pin(open(backend, parsed.clone(), timeouts, self.tls.clone()));
        let connection = match opening.await {
            Ok(connection) => connection,
            Err(error) if self.lazy && error.connect_failure().is_some() => {
                tracing::warn!(
                    %error,
                    "rate limit storage unreachable at start-up: starting without it (lazy \
                     start), connecting in the background"
                );
                let cluster = matches!(parsed, StorageUri::RedisCluster { .. });
                let certificates = self.tls;
                Connection::Pending(spawn_pending(cluster, move || {
                    let (uri, certificates) = (parsed.clone(), certificates.clone());
                    async move {
                        open(backend, uri, timeouts, certificates)
                            .await
                            .map_err(|error| error.to_string())
                    }
                }))
            }
            Err(error) => return Err(error),
        };
        let lease_config = self.lease;
        let storage = RedisStorage {
            inner: Arc::new_cyclic(|inner| Inner {
                connection,
                key_prefix: self.key_prefix,
                timeout,
                backend,
                over_limit: self.over_limit_capacity.map(OverLimitCache::new),
                batcher: batch::Batcher::start(inner.clone()),
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
            timeout: None,
            connect_timeout: None,
            tls: None,
            over_limit_capacity: None,
            lazy: false,
            lease: None,
        }
    }

    /// Connects to `uri` with the default prefix and timeout.
    pub async fn connect(uri: impl Into<String>) -> Result<RedisStorage, StorageError> {
        RedisStorage::builder(uri).build().await
    }
}

/// Connects and proves the connection within `timeouts.connect`, each failure classified.
async fn open(
    backend: &'static str,
    uri: StorageUri,
    timeouts: Timeouts,
    certificates: Option<TlsCertificates>,
) -> Result<Connection, StorageError> {
    let failed = |error: redis::RedisError, uri: &StorageUri| {
        if error.kind() == redis::ErrorKind::InvalidClientConfig {
            backend_error(backend, error)
        } else {
            connect_error(backend, uri, error)
        }
    };
    let within = timeouts.connect;
    let opening = async {
        let connection = connect(uri.clone(), timeouts, certificates).await?;
        // A standalone connection was proved before its manager opened; prove the others here.
        if !matches!(connection, Connection::Standalone(_)) {
            connection.query(&redis::cmd("PING")).await?;
        }
        Ok(connection)
    };
    match tokio::time::timeout(within, opening).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(failed(error, &uri)),
        Err(_) => Err(connect_timeout(backend, &uri, within)),
    }
}
