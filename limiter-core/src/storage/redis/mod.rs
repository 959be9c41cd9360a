//! Redis, Redis Cluster and Redis Sentinel storage (and the Valkey aliases), compatible with
//! Python `limits` deployments.
//!
//! * **One atomic script call per decision batch**: [`Storage::acquire`](super::Storage::acquire)
//!   sends all the hits of a request (one per limit) to one Lua script, by `EVALSHA` (the script is
//!   loaded again after a `NOSCRIPT` reply, e.g. after a server restart), so checking a request
//!   against three limits costs one round trip and one script call, where Python costs three.
//! * **Concurrent requests share script calls** (standalone and sentinel): the requests that are
//!   waiting at the same moment go to the server as one script call, which decides each of them
//!   in order with its own `stop_at_first_breach`. Nothing waits for a batch to fill; under load
//!   this cuts the server's work per request by the parsing, lookup and start-up of a script call
//!   (see `batch.rs`). A batch is one atomic script run, so counts stay exact.
//! * **Replies in binary**: each decided hit comes back as one byte and two or four
//!   little-endian doubles (`struct.pack`), which is cheaper for the server than formatting
//!   numbers as text, and exact for every count a Lua script can hold (2⁵³).
//! * **Reset times only when asked**: [`Storage::acquire_with`](super::Storage::acquire_with)
//!   with [`AdmittedReset::UpperBound`] skips the fixed window's `PTTL` for admitted hits (the
//!   middleware asks for it only when it sends headers or serves `CurrentLimits`).
//! * **Shared with Python**: keys are `{prefix}:{limits key}` (sliding window:
//!   `{prefix}:{{limits key}}` and `{prefix}:{{limits key}}/-1`) and each hit writes what `limits`'
//!   own scripts write, so a Flask-Limiter service and ours on one Redis enforce one limit.
//! * **Bounded**: every operation (connection included) is bounded by a timeout
//!   ([`DEFAULT_TIMEOUT`] unless [configured](RedisStorageBuilder::timeout)); a server that is
//!   down or slow gives [`StorageError::Timeout`] or [`StorageError::Backend`], never a panic or a
//!   hang, and the storage reconnects by itself once the server is back.
//! * **Cluster**: see [the cluster module](self#cluster) below; **Sentinel**: the master is found
//!   through the sentinels and followed across failovers.
//!
//! # Differences from `limits`, and limits of this backend
//!
//! * The sliding window counter is anchored at the first hit (as `limits` on Redis), not at clock
//!   boundaries (as on the memory storage).
//! * Reset times use `PTTL` (milliseconds) where `limits` uses `TTL` (whole seconds), and a
//!   sliding-window reset that `limits` would report as "now" because a TTL is an exact multiple
//!   of the period (a counter read in the millisecond it was created) is reported one period
//!   later. Decisions and stored values are unaffected.
//! * `reset` uses `SCAN` + `UNLINK` on every master (never `KEYS`), so it does not block the
//!   server; it is not atomic with respect to concurrent hits.
//! * Sentinel reads always go to the master (`limits`' `use_replicas` is not offered: a decision
//!   is a write). Sentinel URIs have no TLS form (as in `limits`).
//!
//! # TLS
//!
//! With the `tls` feature (without it they fail with [`StorageError::NotBuilt`]), `rediss://` and
//! `valkeys://` (and TLS cluster nodes) connect over TLS with [rustls](https://docs.rs/rustls)
//! and verify the server's certificate and host name:
//!
//! * **Trusted roots**: by default the platform's root certificates, loaded by
//!   `rustls-native-certs` (the system store; the `SSL_CERT_FILE` and `SSL_CERT_DIR` environment
//!   variables, when set, are used instead, as with OpenSSL). A private CA is given with
//!   [`RedisStorageBuilder::tls_root_certificates`], which then **replaces** the platform roots.
//!   This is what Python's `?ssl_ca_certs=/path/ca.pem` does with redis-py: pass the contents of
//!   that file (`std::fs::read("/path/ca.pem")?`). The `ssl_*` query parameters of a `limits` URI
//!   are not read by this crate; `?ssl_cert_reqs=none` has no equivalent except `#insecure` below.
//! * **Mutual TLS**: [`RedisStorageBuilder::tls_client_certificate`] (Python's `ssl_certfile` and
//!   `ssl_keyfile`).
//! * **`#insecure`** (`rediss://host:6380/0#insecure`, which disables certificate verification in
//!   the `redis` crate) is rejected at connect with a typed [`StorageError::Backend`]: this build
//!   does not enable the `redis` crate's `tls-rustls-insecure` feature, so an unverified
//!   connection cannot happen by accident. Use a private CA instead, even for tests.
//! * **Crypto provider**: when a TLS connection is made and the process has no default rustls
//!   `CryptoProvider` yet, rustls' `ring` provider is installed as the process default; an
//!   application that installed its own first keeps it.
//!
//! # Cluster
//!
//! A Lua script may only touch keys of one hash slot. The keys of one hit always share one, but
//! the hits of a batch often do not (hash-tagging them together would rename them and break
//! Python compatibility). A batch in one slot is one call. Otherwise, without
//! `stop_at_first_breach` it is one call per slot, sent concurrently; with it, consecutive hits of
//! one slot are one call and the calls are made in order, stopping at the first rejected hit.

mod batch;
mod cluster;
mod scripts;
mod sentinel;

use super::over_limit::{OverLimitCache, DEFAULT_OVER_LIMIT_CAPACITY};
use super::{AdmittedReset, Decision, Decisions, Hit, StorageError, WindowStats};
use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use crate::uri::StorageUri;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisError, RedisResult, Value};
use scripts::{Call, Mode, Record, Records, Request, ScriptHit};
use sentinel::SentinelConnection;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The key prefix of `limits` (`LIMITS:LIMITER/…`), used unless configured otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "LIMITS";

/// How long one storage operation (or connecting) may take before it fails with
/// [`StorageError::Timeout`], unless configured otherwise: 1 second. A rate limiter must not hold
/// requests for long when its storage is unwell, but a loaded server or a failover can take a few
/// hundred milliseconds; lower it if your application would rather fail fast.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The certificates a TLS connection is configured with.
#[cfg(feature = "tls")]
type TlsCertificates = redis::TlsCertificates;
/// Without the `tls` feature no certificate can be configured: a type without values.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
enum TlsCertificates {}

/// How a look at one window (`test`, `window_stats`) is decided: one hit, with its exact reset.
const PEEK_MODE: Mode = Mode {
    stop_at_first_breach: false,
    admitted_reset: AdmittedReset::Exact,
};

/// How many keys one `SCAN` step of [`Storage::reset`](super::Storage::reset) asks for.
const SCAN_COUNT: usize = 1000;

/// Rate-limit storage on Redis or Valkey: standalone (`redis://`, `rediss://`, `redis+unix://`),
/// cluster (`redis+cluster://`) or sentinel-monitored (`redis+sentinel://`).
///
/// Cloning is cheap and shares the connections.
///
/// ```no_run
/// use limiter_core::storage::RedisStorage;
/// use limiter_core::{RateLimiter, Strategy};
/// use std::time::Duration;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let storage = RedisStorage::builder("redis://127.0.0.1:6379/0")
///     .key_prefix("LIMITS")
///     .timeout(Duration::from_millis(500))
///     .build()
///     .await?;
/// let limiter = RateLimiter::new(Strategy::SlidingWindowCounter, storage)?;
/// let limit = "10 per minute".parse()?;
/// let allowed = limiter.hit(&limit, &["127.0.0.1", "index"], 1).await?;
/// # let _ = allowed;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStorage {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    key_prefix: String,
    timeout: Duration,
    backend: &'static str,
    over_limit: Option<OverLimitCache>,
    /// Coalesces concurrent requests' script calls (standalone and sentinel connections).
    batcher: Option<batch::Batcher>,
}

enum Connection {
    Standalone(ConnectionManager),
    Cluster {
        connection: ClusterConnection,
        username: Option<String>,
        password: Option<String>,
    },
    Sentinel(SentinelConnection),
}

impl fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorage")
            .field("backend", &self.inner.backend)
            .field("key_prefix", &self.inner.key_prefix)
            .field("timeout", &self.inner.timeout)
            .field("over_limit_cache", &self.inner.over_limit)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisStorage`]; see [`RedisStorage::builder`].
#[derive(Debug, Clone)]
pub struct RedisStorageBuilder {
    uri: String,
    key_prefix: String,
    timeout: Duration,
    /// Certificates for TLS; its `Debug` never prints their contents.
    tls: Option<TlsCertificates>,
    over_limit_capacity: Option<usize>,
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
    /// silently connecting without TLS. See [TLS](self#tls).
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
    /// [`Storage::clear`](super::Storage::clear) and [`Storage::reset`](super::Storage::reset)
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

    /// Connects (within the timeout) and returns the storage. For a sentinel URI, the master is
    /// asked of the sentinels first.
    pub async fn build(self) -> Result<RedisStorage, StorageError> {
        let parsed = StorageUri::parse(&self.uri)?;
        let backend = parsed.scheme_name();
        #[cfg(not(feature = "tls"))]
        if matches!(backend, "rediss" | "valkeys") {
            return Err(super::not_built(backend));
        }
        let timeout = self.timeout;
        let connection = bounded(backend, timeout, connect(parsed, timeout, self.tls)).await?;
        let coalesce = !matches!(connection, Connection::Cluster { .. });
        Ok(RedisStorage {
            inner: Arc::new_cyclic(|inner| Inner {
                connection,
                key_prefix: self.key_prefix,
                timeout,
                backend,
                over_limit: self.over_limit_capacity.map(OverLimitCache::new),
                batcher: coalesce
                    .then(|| batch::Batcher::start(inner.clone()))
                    .flatten(),
            }),
        })
    }
}

/// The error for TLS certificates given with a URI that does not use TLS.
fn certificates_without_tls(uri: &StorageUri) -> RedisError {
    RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "TLS certificates were configured but the URI does not use TLS (rediss://, valkeys://)",
        uri.redacted(),
    ))
}

/// Makes sure rustls has a process-wide crypto provider before a TLS connection is configured:
/// the `redis` crate enables none, so without this rustls would panic. An application's own
/// choice, installed earlier, is kept.
#[cfg(feature = "tls")]
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: some provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// One direct connection attempt before the connection manager takes over, because the manager
/// retries every failed attempt until the timeout: a certificate that does not verify (or a TLS
/// configuration the build refuses, such as `#insecure`) would otherwise surface as a
/// [`StorageError::Timeout`] after the whole timeout. Those errors are returned at once; any
/// other failure (e.g. a refused connection) is left to the manager's retries. The probe
/// connection is then dropped.
#[cfg(feature = "tls")]
async fn tls_preflight(client: &redis::Client, timeout: Duration) -> RedisResult<()> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    match client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Err(error)
            if error.kind() == redis::ErrorKind::InvalidClientConfig || is_tls_error(&error) =>
        {
            Err(error)
        }
        _ => Ok(()),
    }
}

/// Whether a rustls error (a handshake or certificate failure) is among `error`'s causes. The
/// `redis` crate keeps an I/O error behind an `Arc`, and `io::Error::source` skips the error it
/// wraps, so both layers are opened by hand.
#[cfg(feature = "tls")]
fn is_tls_error(error: &RedisError) -> bool {
    type Shared = Arc<dyn std::error::Error + Send + Sync>;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(mut current) = cause {
        if let Some(shared) = current.downcast_ref::<Shared>() {
            current = shared.as_ref();
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            current = inner;
        }
        if current.is::<rustls::Error>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Fails unless `pem` holds at least one well-formed certificate: the `redis` crate would
/// otherwise trust an empty set and fail later, at the handshake, with a vaguer error.
#[cfg(feature = "tls")]
fn check_root_certificates(pem: &[u8]) -> RedisResult<()> {
    use rustls::pki_types::pem::PemObject;
    let mut count = 0;
    for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        certificate.map_err(|error| {
            RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "malformed PEM in the TLS root certificates",
                error.to_string(),
            ))
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "no PEM certificate (BEGIN CERTIFICATE) in the TLS root certificates",
        )));
    }
    Ok(())
}

async fn connect(
    uri: StorageUri,
    timeout: Duration,
    certificates: Option<TlsCertificates>,
) -> RedisResult<Connection> {
    #[cfg(feature = "tls")]
    if let Some(redis::TlsCertificates {
        root_cert: Some(pem),
        ..
    }) = &certificates
    {
        check_root_certificates(pem)?;
    }
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_max_delay(timeout);
    match uri {
        StorageUri::Redis { ref url, .. } => {
            let client = if url.starts_with("rediss://") {
                #[cfg(feature = "tls")]
                ensure_crypto_provider();
                match certificates {
                    #[cfg(feature = "tls")]
                    Some(certificates) => {
                        redis::Client::build_with_tls(url.as_str(), certificates)?
                    }
                    None => redis::Client::open(url.as_str())?,
                }
            } else if certificates.is_some() {
                return Err(certificates_without_tls(&uri));
            } else {
                redis::Client::open(url.as_str())?
            };
            #[cfg(feature = "tls")]
            if url.starts_with("rediss://") {
                tls_preflight(&client, timeout).await?;
            }
            let manager = ConnectionManager::new_with_config(client, manager_config).await?;
            Ok(Connection::Standalone(manager))
        }
        StorageUri::RedisCluster {
            nodes,
            username,
            password,
            tls,
            ..
        } => {
            let scheme = if tls { "rediss" } else { "redis" };
            let urls: Vec<String> = nodes
                .iter()
                .map(|node| format!("{scheme}://{node}"))
                .collect();
            let mut builder = redis::cluster::ClusterClientBuilder::new(urls)
                .connection_timeout(timeout)
                .response_timeout(timeout);
            #[cfg(feature = "tls")]
            if tls {
                ensure_crypto_provider();
            }
            match certificates {
                #[cfg(feature = "tls")]
                Some(certificates) if tls => builder = builder.certs(certificates),
                Some(_) => {
                    return Err(RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "TLS certificates were configured but the cluster URI does not use TLS",
                    )))
                }
                None => {}
            }
            if let Some(username) = &username {
                builder = builder.username(username);
            }
            if let Some(password) = &password {
                builder = builder.password(password);
            }
            let connection = builder.build()?.get_async_connection().await?;
            Ok(Connection::Cluster {
                connection,
                username,
                password,
            })
        }
        StorageUri::RedisSentinel {
            sentinels,
            service_name,
            username,
            password,
            db,
            ..
        } => {
            if certificates.is_some() {
                return Err(RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "TLS certificates were configured but sentinel URIs do not use TLS",
                )));
            }
            let addresses = sentinels
                .iter()
                .map(|location| redis::ConnectionAddr::Tcp(location.host.clone(), location.port));
            let mut sentinel_settings = redis::RedisConnectionInfo::default();
            if let Some(username) = &username {
                sentinel_settings = sentinel_settings.set_username(username);
            }
            if let Some(password) = &password {
                sentinel_settings = sentinel_settings.set_password(password);
            }
            let watch = addresses
                .clone()
                .map(|address| {
                    Ok(redis::IntoConnectionInfo::into_connection_info(address)?
                        .set_redis_settings(sentinel_settings.clone()))
                })
                .collect::<RedisResult<Vec<_>>>()?;
            let service = service_name.clone();
            let mut builder = redis::sentinel::SentinelClientBuilder::new(
                addresses,
                service_name,
                redis::sentinel::SentinelServerType::Master,
            )?;
            if let Some(db) = db {
                builder = builder.set_client_to_redis_db(db);
            }
            if let Some(username) = &username {
                builder = builder
                    .set_client_to_redis_username(username)
                    .set_client_to_sentinel_username(username);
            }
            if let Some(password) = &password {
                builder = builder
                    .set_client_to_redis_password(password)
                    .set_client_to_sentinel_password(password);
            }
            let sentinel = builder.build()?;
            Ok(Connection::Sentinel(
                SentinelConnection::connect(sentinel, manager_config, watch, service).await?,
            ))
        }
        other => Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "not a Redis storage URI",
            other.redacted(),
        ))),
    }
}

/// Runs `operation` within `timeout`, mapping its errors to [`StorageError`].
async fn bounded<T>(
    backend: &'static str,
    timeout: Duration,
    operation: impl Future<Output = RedisResult<T>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) if error.is_timeout() => Err(StorageError::Timeout { backend, timeout }),
        Ok(Err(error)) => Err(backend_error(backend, error)),
        Err(_) => Err(StorageError::Timeout { backend, timeout }),
    }
}

fn backend_error(
    backend: &'static str,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StorageError {
    StorageError::Backend {
        backend,
        source: error.into(),
    }
}

/// A reply the scripts never give.
fn unexpected(what: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Client,
        "unexpected reply from the rate-limit script",
        what.to_owned(),
    ))
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
        }
    }

    /// Connects to `uri` with the default prefix and timeout.
    pub async fn connect(uri: impl Into<String>) -> Result<RedisStorage, StorageError> {
        RedisStorage::builder(uri).build().await
    }

    /// The scheme of the URI this storage was opened with (`redis`, `redis+cluster`, …).
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend
    }

    /// The prefix of every key.
    pub fn key_prefix(&self) -> &str {
        &self.inner.key_prefix
    }

    /// The longest one operation may take.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// How many keys the over-limit cache holds now (expired ones included until swept), or
    /// `None` when it is off (see [`RedisStorageBuilder::over_limit_cache`]).
    pub fn over_limit_cached(&self) -> Option<usize> {
        self.inner.over_limit.as_ref().map(OverLimitCache::len)
    }

    pub(crate) fn over_limit_cache(&self) -> Option<&OverLimitCache> {
        self.inner.over_limit.as_ref()
    }

    /// The Redis keys of `limit` for `identifiers` under `strategy`, exactly as `limits` names
    /// them: `[LIMITS:LIMITER/…]`, or for the sliding window counter
    /// `[LIMITS:{LIMITER/…}/-1, LIMITS:{LIMITER/…}]` (previous, current).
    ///
    /// ```
    /// # #[cfg(feature = "redis")] {
    /// use limiter_core::storage::RedisStorage;
    /// use limiter_core::{RateLimit, Strategy};
    /// let limit: RateLimit = "2/minute".parse().unwrap();
    /// assert_eq!(
    ///     RedisStorage::keys_for("LIMITS", Strategy::SlidingWindowCounter, &limit, &["a"]),
    ///     ["LIMITS:{LIMITER/a/2/1/minute}/-1", "LIMITS:{LIMITER/a/2/1/minute}"]
    /// );
    /// # }
    /// ```
    pub fn keys_for(
        key_prefix: &str,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Vec<String> {
        let mut key = String::with_capacity(key_prefix.len() + 64);
        key.push_str(key_prefix);
        key.push(':');
        match strategy {
            Strategy::FixedWindow | Strategy::MovingWindow => {
                limit.write_key(identifiers, &mut key);
                vec![key]
            }
            Strategy::SlidingWindowCounter => {
                key.push('{');
                limit.write_key(identifiers, &mut key);
                key.push('}');
                let previous = format!("{key}/-1");
                vec![previous, key]
            }
        }
    }

    fn script_hit(&self, strategy: Strategy, hit: &Hit<'_>) -> ScriptHit {
        ScriptHit {
            amount: hit.limit.amount(),
            expiry: hit.limit.expiry_seconds(),
            cost: hit.cost,
            keys: Self::keys_for(&self.inner.key_prefix, strategy, hit.limit, hit.identifiers),
        }
    }

    async fn bounded<T>(
        &self,
        operation: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StorageError> {
        bounded(self.inner.backend, self.inner.timeout, operation).await
    }

    /// Sends one command to the server (standalone, sentinel master) or the node owning its keys.
    async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        match &self.inner.connection {
            Connection::Standalone(manager) => cmd.query_async(&mut manager.clone()).await,
            Connection::Cluster { connection, .. } => {
                cmd.query_async(&mut connection.clone()).await
            }
            Connection::Sentinel(sentinel) => sentinel.query(cmd).await,
        }
    }

    /// One script call (EVALSHA, and SCRIPT LOAD + EVALSHA again after NOSCRIPT); returns the
    /// records of each of the call's requests, one per decided hit.
    async fn eval(&self, call: &Call<'_>) -> RedisResult<Vec<Records>> {
        let reply = match self.query(&call.evalsha()).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.query(&call.load()).await?;
                self.query(&call.evalsha()).await?
            }
            other => other?,
        };
        let Value::BulkString(bytes) = reply else {
            return Err(unexpected("not a string"));
        };
        scripts::records(&bytes, call.strategy)
            .and_then(|records| scripts::by_request(&records, call.requests))
            .ok_or_else(|| unexpected("wrong number of records"))
    }

    /// One script call for the hits of one request.
    async fn eval_one(
        &self,
        strategy: Strategy,
        now: f64,
        hits: &[ScriptHit],
        mode: Mode,
        peek: bool,
    ) -> RedisResult<Records> {
        let requests = [Request {
            hits: hits.len(),
            mode,
        }];
        let call = Call {
            strategy,
            now,
            peek,
            hits,
            requests: &requests,
        };
        let mut records = self.eval(&call).await?;
        Ok(records.pop().unwrap_or_default())
    }

    /// Decides one request's `hits` in as few script calls as the topology allows (one, unless a
    /// cluster batch spans several slots).
    async fn eval_batch(
        &self,
        strategy: Strategy,
        now: f64,
        hits: &[ScriptHit],
        mode: Mode,
        peek: bool,
    ) -> RedisResult<Records> {
        let call = |hits| self.eval_one(strategy, now, hits, mode, peek);
        let is_cluster = matches!(self.inner.connection, Connection::Cluster { .. });
        if !is_cluster || cluster::single_slot(hits) {
            return call(hits).await;
        }
        if mode.stop_at_first_breach {
            let mut records = Records::with_capacity(hits.len());
            for run in cluster::runs(hits) {
                let expected = run.len();
                let part = call(&hits[run]).await?;
                let breached = part.len() < expected || part.iter().any(|record| !record.allowed);
                records.extend(part);
                if breached {
                    break;
                }
            }
            return Ok(records);
        }
        let groups = cluster::by_slot(hits);
        let group_hits: Vec<Vec<ScriptHit>> = groups
            .iter()
            .map(|group| group.iter().map(|&index| hits[index].clone()).collect())
            .collect();
        let replies = futures_util::future::try_join_all(
            group_hits
                .iter()
                .map(|group| async move { call(group).await }),
        )
        .await?;
        // Without stopping at a breach every group decides all of its hits.
        let mut records: Records = smallvec::smallvec![Record::default(); hits.len()];
        for (group, reply) in groups.iter().zip(replies) {
            for (&index, record) in group.iter().zip(reply) {
                records[index] = record;
            }
        }
        Ok(records)
    }

    /// Decides one request's `hits`: through the coalescing task when there is one, else by
    /// [`eval_batch`](Self::eval_batch).
    async fn decide(
        &self,
        strategy: Strategy,
        now: f64,
        hits: Vec<ScriptHit>,
        mode: Mode,
    ) -> RedisResult<Records> {
        let request = Request {
            hits: hits.len(),
            mode,
        };
        let hits = match &self.inner.batcher {
            Some(batcher) => match batcher.submit(strategy, request, hits) {
                Ok(records) => {
                    return records
                        .await
                        .unwrap_or_else(|_| Err(unexpected("the coalescing task stopped")));
                }
                Err(hits) => hits,
            },
            None => hits,
        };
        self.eval_batch(strategy, now, &hits, mode, false).await
    }

    pub(crate) async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        if hits.is_empty() {
            return Ok(Decisions::new());
        }
        let now = Timestamp::from(SystemTime::now());
        let script_hits: Vec<ScriptHit> = hits
            .iter()
            .map(|hit| self.script_hit(strategy, hit))
            .collect();
        let mode = Mode {
            stop_at_first_breach,
            admitted_reset,
        };
        let records = self
            .bounded(self.decide(strategy, now.as_secs_f64(), script_hits, mode))
            .await?;
        Ok(hits
            .iter()
            .zip(&records)
            .map(|(hit, record)| decode(strategy, now, hit.limit, record))
            .collect())
    }

    pub(crate) async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        let decisions = self
            .acquire(
                strategy,
                std::slice::from_ref(hit),
                false,
                AdmittedReset::Exact,
            )
            .await?;
        decisions
            .first()
            .copied()
            .ok_or_else(|| backend_error(self.inner.backend, unexpected("no decision")))
    }

    /// Looks at one limit's window without counting anything.
    async fn peek(&self, strategy: Strategy, hit: &Hit<'_>) -> Result<Decision, StorageError> {
        let now = Timestamp::from(SystemTime::now());
        let script_hits = [self.script_hit(strategy, hit)];
        let records = self
            .bounded(self.eval_batch(strategy, now.as_secs_f64(), &script_hits, PEEK_MODE, true))
            .await?;
        match records.first() {
            Some(record) => Ok(decode(strategy, now, hit.limit, record)),
            None => Err(backend_error(self.inner.backend, unexpected("no record"))),
        }
    }

    pub(crate) async fn test(
        &self,
        strategy: Strategy,
        hit: Hit<'_>,
    ) -> Result<bool, StorageError> {
        Ok(self.peek(strategy, &hit).await?.allowed)
    }

    pub(crate) async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        let hit = Hit {
            limit,
            identifiers,
            cost: 0,
        };
        let decision = self.peek(strategy, &hit).await?;
        Ok(WindowStats {
            remaining: decision.remaining,
            reset_at: decision.reset_at,
        })
    }

    pub(crate) async fn clear(
        &self,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<(), StorageError> {
        let prefix = &self.inner.key_prefix;
        let plain = Self::keys_for(prefix, Strategy::FixedWindow, limit, identifiers);
        let sliding = Self::keys_for(prefix, Strategy::SlidingWindowCounter, limit, identifiers);
        self.bounded(async {
            if matches!(self.inner.connection, Connection::Cluster { .. }) {
                // Two slots: the plain key, and the hash-tagged pair.
                let mut first = redis::cmd("DEL");
                first.arg(&plain);
                let mut second = redis::cmd("DEL");
                second.arg(&sliding);
                futures_util::future::try_join(self.query(&first), self.query(&second)).await?;
            } else {
                let mut del = redis::cmd("DEL");
                del.arg(&plain).arg(&sliding);
                self.query(&del).await?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn reset(&self) -> Result<Option<u64>, StorageError> {
        let pattern = format!("{}:*", glob_escape(&self.inner.key_prefix));
        match &self.inner.connection {
            Connection::Standalone(manager) => {
                self.scan_and_unlink(manager.clone(), &pattern, true).await
            }
            Connection::Sentinel(_) => {
                // Through `query`, so that a failover is followed.
                let mut removed = 0;
                let mut cursor: u64 = 0;
                loop {
                    let mut scan = redis::cmd("SCAN");
                    scan.arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT);
                    let reply = self.bounded(self.query(&scan)).await?;
                    let (next, keys): (u64, Vec<String>) = redis::from_redis_value(reply)
                        .map_err(|error| backend_error(self.inner.backend, error))?;
                    if !keys.is_empty() {
                        let mut unlink = redis::cmd("UNLINK");
                        unlink.arg(&keys);
                        let reply = self.bounded(self.query(&unlink)).await?;
                        removed += redis::from_redis_value::<u64>(reply).unwrap_or(0);
                    }
                    cursor = next;
                    if cursor == 0 {
                        return Ok(Some(removed));
                    }
                }
            }
            Connection::Cluster {
                connection,
                username,
                password,
            } => {
                let nodes: String = self
                    .bounded(
                        redis::cmd("CLUSTER")
                            .arg("NODES")
                            .query_async(&mut connection.clone()),
                    )
                    .await?;
                let mut removed = 0;
                for (host, port) in cluster_masters(&nodes) {
                    let mut settings = redis::RedisConnectionInfo::default();
                    if let Some(username) = username {
                        settings = settings.set_username(username);
                    }
                    if let Some(password) = password {
                        settings = settings.set_password(password);
                    }
                    let info = redis::IntoConnectionInfo::into_connection_info(
                        redis::ConnectionAddr::Tcp(host, port),
                    )
                    .map_err(|error| backend_error(self.inner.backend, error))?
                    .set_redis_settings(settings);
                    let client = redis::Client::open(info)
                        .map_err(|error| backend_error(self.inner.backend, error))?;
                    let node = self
                        .bounded(client.get_multiplexed_async_connection())
                        .await?;
                    if let Some(count) = self.scan_and_unlink(node, &pattern, false).await? {
                        removed += count;
                    }
                }
                Ok(Some(removed))
            }
        }
    }

    /// SCANs one server for `pattern` and unlinks what it finds, each round trip bounded by the
    /// timeout. `multi_key`: whether one UNLINK may name keys of several slots (not on a cluster
    /// node, where each key is unlinked on its own, pipelined).
    async fn scan_and_unlink<C: redis::aio::ConnectionLike + Send>(
        &self,
        mut connection: C,
        pattern: &str,
        multi_key: bool,
    ) -> Result<Option<u64>, StorageError> {
        let mut removed = 0;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .bounded(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT)
                        .query_async(&mut connection),
                )
                .await?;
            if !keys.is_empty() {
                if multi_key {
                    let count: u64 = self
                        .bounded(redis::cmd("UNLINK").arg(&keys).query_async(&mut connection))
                        .await?;
                    removed += count;
                } else {
                    let mut pipe = redis::pipe();
                    for key in &keys {
                        pipe.cmd("UNLINK").arg(key);
                    }
                    let counts: Vec<u64> = self.bounded(pipe.query_async(&mut connection)).await?;
                    removed += counts.iter().sum::<u64>();
                }
            }
            cursor = next;
            if cursor == 0 {
                return Ok(Some(removed));
            }
        }
    }

    pub(crate) async fn check(&self) -> bool {
        let ping = redis::cmd("PING");
        self.bounded(self.query(&ping)).await.is_ok()
    }
}

/// `host:port` of every master that is not failing, from `CLUSTER NODES`.
fn cluster_masters(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _id = fields.next()?;
            let address = fields.next()?;
            let flags = fields.next()?;
            let is_master = flags.split(',').any(|flag| flag == "master");
            let failing = flags
                .split(',')
                .any(|flag| flag == "fail" || flag == "noaddr");
            if !is_master || failing {
                return None;
            }
            // `host:port@cport[,hostname]`
            let address = address.split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// A count as a script reports it (a whole number; negative never, but read as 0).
fn count(number: f64) -> u64 {
    // `as` saturates, and turns NaN and negatives into 0.
    number as u64
}

/// A `PTTL` in milliseconds (negative when the key has no expiry or does not exist: 0).
fn millis(number: f64) -> Duration {
    Duration::from_millis(number as u64)
}

/// Turns one hit's script record into its decision, with `limits`' window statistics.
fn decode(strategy: Strategy, now: Timestamp, limit: &RateLimit, record: &Record) -> Decision {
    let allowed = record.allowed;
    let [a, b, c, d] = record.fields;
    let amount = limit.amount();
    let expiry = limit.expiry();
    let (remaining, reset_at) = match strategy {
        Strategy::FixedWindow => {
            // count, PTTL (negative when the key does not exist: reset is now; not read: at most
            // one window away)
            let until_reset = if b == scripts::TTL_NOT_READ {
                expiry
            } else {
                millis(b)
            };
            (
                amount.saturating_sub(count(a)),
                now.saturating_add(until_reset),
            )
        }
        Strategy::MovingWindow => {
            // entries in the window, the oldest of them (seconds since the epoch)
            let count = count(a);
            let reset_at = if count > 0 {
                Timestamp::from_secs_f64(b).saturating_add(expiry)
            } else {
                now
            };
            (amount.saturating_sub(count), reset_at)
        }
        Strategy::SlidingWindowCounter => sliding_stats(
            amount,
            expiry,
            now,
            count(a),
            millis(b),
            count(c),
            millis(d),
        ),
    };
    Decision {
        allowed,
        remaining,
        reset_at,
    }
}

/// `limits`' `SlidingWindowCounterRateLimiter.get_window_stats`: remaining is the amount minus
/// the floored weighted count; the reset is when the weighted count next drops by one or the
/// current bucket ends, whichever comes first (now if both buckets are empty).
fn sliding_stats(
    amount: u64,
    expiry: Duration,
    now: Timestamp,
    previous_count: u64,
    previous_ttl: Duration,
    current_count: u64,
    current_ttl: Duration,
) -> (u64, Timestamp) {
    let expiry_s = expiry.as_secs_f64();
    let weighted = if expiry_s > 0.0 {
        previous_count as f64 * previous_ttl.as_secs_f64() / expiry_s + current_count as f64
    } else {
        current_count as f64
    };
    let remaining = amount.saturating_sub(weighted.floor() as u64);
    if previous_count == 0 && current_count == 0 {
        return (remaining, now);
    }
    // `ttl % period`, except that a TTL of a whole number of periods (e.g. the PTTL of a counter
    // read in the millisecond it was created) is a full period away, not now as in `limits`.
    let until_next = |ttl: f64, period: f64| match ttl % period {
        rest if rest > 0.0 => rest,
        _ if ttl > 0.0 => period,
        _ => 0.0,
    };
    let mut wait = f64::INFINITY;
    if previous_count > 0 {
        wait = wait.min(until_next(
            previous_ttl.as_secs_f64(),
            expiry_s / previous_count as f64,
        ));
    }
    if current_count > 0 {
        wait = wait.min(until_next(current_ttl.as_secs_f64(), expiry_s));
    }
    let wait = if wait.is_finite() && wait > 0.0 {
        Duration::from_secs_f64(wait)
    } else {
        Duration::ZERO
    };
    (remaining, now.saturating_add(wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_those_of_limits() {
        let limit: RateLimit = "2/minute".parse().unwrap();
        assert_eq!(
            RedisStorage::keys_for(
                "LIMITS",
                Strategy::FixedWindow,
                &limit,
                &["127.0.0.1", "root"]
            ),
            ["LIMITS:LIMITER/127.0.0.1/root/2/1/minute"]
        );
        assert_eq!(
            RedisStorage::keys_for("P", Strategy::MovingWindow, &limit, &["a"]),
            ["P:LIMITER/a/2/1/minute"]
        );
        let sliding = RedisStorage::keys_for("P", Strategy::SlidingWindowCounter, &limit, &["a"]);
        assert_eq!(
            sliding,
            ["P:{LIMITER/a/2/1/minute}/-1", "P:{LIMITER/a/2/1/minute}"]
        );
        // One cluster slot for both sliding keys.
        use redis::cluster_routing::Slot;
        assert_eq!(Slot::for_key(&sliding[0]), Slot::for_key(&sliding[1]));
    }

    #[test]
    fn decodes_script_records() {
        let now = Timestamp::from_nanos(1_000_000_000_000);
        let limit: RateLimit = "3/minute".parse().unwrap();
        let record = |allowed, fields| Record { allowed, fields };
        let fixed = record(true, [2.0, 59_000.0, 0.0, 0.0]);
        let decision = decode(Strategy::FixedWindow, now, &limit, &fixed);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 1);
        assert_eq!(
            decision.reset_at,
            now.saturating_add(Duration::from_secs(59))
        );
        // A missing key (PTTL -2): reset now.
        let fresh = record(true, [0.0, -2.0, 0.0, 0.0]);
        assert_eq!(
            decode(Strategy::FixedWindow, now, &limit, &fresh).reset_at,
            now
        );
        // PTTL not read (an admitted hit whose reset time was not asked for): one window away.
        let unread = record(true, [2.0, scripts::TTL_NOT_READ, 0.0, 0.0]);
        assert_eq!(
            decode(Strategy::FixedWindow, now, &limit, &unread).reset_at,
            now.saturating_add(Duration::from_secs(60))
        );

        let moving = record(false, [3.0, 1000.5, 0.0, 0.0]);
        let decision = decode(Strategy::MovingWindow, now, &limit, &moving);
        assert!(!decision.allowed);
        assert_eq!(decision.remaining, 0);
        assert_eq!(decision.reset_at, Timestamp::from_secs_f64(1060.5));
        // An empty window resets now.
        let empty = record(true, [0.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            decode(Strategy::MovingWindow, now, &limit, &empty).reset_at,
            now
        );

        // Previous bucket: 4 with 25 s left; current: 1 with 90 s left (see sliding_stats).
        let sliding = record(true, [4.0, 25_000.0, 1.0, 90_000.0]);
        let decision = decode(Strategy::SlidingWindowCounter, now, &limit, &sliding);
        assert_eq!(decision.remaining, 1);
        assert_eq!(
            decision.reset_at,
            now.saturating_add(Duration::from_secs(10))
        );
    }

    #[test]
    fn sliding_stats_are_those_of_limits() {
        let now = Timestamp::from_nanos(0);
        let minute = Duration::from_secs(60);
        // limits' worked example: 4 in the previous bucket with 25 s of it left → 4 × 25/60 = 1.67
        // → floor 1, so 3 remain; the next drop in 25 mod 15 = 10 s.
        let (remaining, reset) = sliding_stats(
            4,
            minute,
            now,
            4,
            Duration::from_secs(25),
            0,
            Duration::ZERO,
        );
        assert_eq!(remaining, 3);
        assert_eq!(reset, now.saturating_add(Duration::from_secs(10)));
        // Nothing counted: reset now.
        assert_eq!(
            sliding_stats(4, minute, now, 0, Duration::ZERO, 0, Duration::ZERO),
            (4, now)
        );
        // A current counter read in the millisecond it was created (PTTL = 2 × expiry) resets in
        // one expiry, not now.
        let (_, reset) = sliding_stats(4, minute, now, 0, Duration::ZERO, 1, 2 * minute);
        assert_eq!(reset, now.saturating_add(minute));
    }

    #[test]
    fn finds_cluster_masters() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001,host-b master - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002 slave a1 0 0 1 connected
d4 127.0.0.1:7003@17003 master,fail - 0 0 3 disconnected
e5 ::1:7004@17004 master - 0 0 4 connected 10923-16383
";
        assert_eq!(
            cluster_masters(nodes),
            [
                ("127.0.0.1".to_owned(), 7000),
                ("127.0.0.1".to_owned(), 7001),
                ("::1".to_owned(), 7004)
            ]
        );
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
