//! The typed form of a storage URI, one variant per backend family.

use super::redact::{join, masked, redacted_userinfo};
use std::fmt;
use std::path::PathBuf;

/// Every scheme [`StorageUri::parse`] accepts, in the order error messages list them.
pub const SCHEMES: [&str; 14] = [
    "memory",
    "redis",
    "rediss",
    "redis+unix",
    "redis+cluster",
    "redis+sentinel",
    "valkey",
    "valkeys",
    "valkey+unix",
    "valkey+cluster",
    "valkey+sentinel",
    "memcached",
    "mongodb",
    "mongodb+srv",
];

/// Parsed `storage_uri`.
///
/// Its `Display` and `Debug` forms are [`redacted`](Self::redacted): a password never reaches a
/// log or an error message through them.
///
/// ```
/// use limiter_core::uri::StorageUri;
/// let uri = StorageUri::parse("redis://admin:s3cret@host:6379/0")?;
/// assert_eq!(uri.to_string(), "redis://admin:***@host:6379/0");
/// assert!(!format!("{uri:?}").contains("s3cret"));
/// # Ok::<(), limiter_core::uri::UriError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageUri {
    /// `memory://`: counters kept in this process.
    Memory,
    /// `redis://`, `rediss://`, `redis+unix://`, `valkey://`, `valkeys://`, `valkey+unix://`.
    Redis {
        /// The URL to hand to the redis crate. Its scheme is lower-cased and
        /// always `redis`, `rediss` or `redis+unix` (`valkey*` becomes
        /// `redis*`); the path (database), query and credentials are unchanged.
        url: String,
        /// Which server the URI named.
        flavor: RedisFlavor,
    },
    /// `redis+cluster://[user:pass@]host:port[,host:port…]` and `valkey+cluster://`.
    RedisCluster {
        /// The start-up nodes, in the order given.
        nodes: Vec<Location>,
        /// The percent-decoded user name, if any.
        username: Option<String>,
        /// The percent-decoded password, if any.
        password: Option<String>,
        /// Whether to connect with TLS. No cluster scheme selects TLS in
        /// `limits`, so the parser always sets `false`.
        tls: bool,
        /// Which server the URI named.
        flavor: RedisFlavor,
    },
    /// `redis+sentinel://[user:pass@]host:port[,host:port…]/service_name` and `valkey+sentinel://`.
    RedisSentinel {
        /// The sentinels, in the order given.
        sentinels: Vec<Location>,
        /// The name of the monitored primary (the path without its slashes).
        service_name: String,
        /// The percent-decoded user name, used for sentinels and data nodes.
        username: Option<String>,
        /// The percent-decoded password, used for sentinels and data nodes.
        password: Option<String>,
        /// The database number from a `?db=` query parameter, if present.
        db: Option<i64>,
        /// Which server the URI named.
        flavor: RedisFlavor,
    },
    /// `memcached://host:port[,host:port…]` or `memcached:///path/to/socket`.
    Memcached {
        /// The servers: TCP locations, or a single Unix socket.
        servers: Vec<MemcachedServer>,
    },
    /// `mongodb://…` and `mongodb+srv://…`.
    MongoDb {
        /// The URL for the MongoDB driver: unchanged apart from a lower-cased scheme.
        url: String,
    },
}

/// The server family a Redis-protocol URI named. Both speak the same protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisFlavor {
    /// A `redis*` scheme.
    Redis,
    /// A `valkey*` scheme.
    Valkey,
}

impl RedisFlavor {
    /// The scheme prefix this flavour is written with.
    pub(super) fn prefix(self) -> &'static str {
        match self {
            RedisFlavor::Redis => "redis",
            RedisFlavor::Valkey => "valkey",
        }
    }
}

/// A network location `host:port`.
///
/// An IPv6 host is stored without brackets (`::1`) and displayed with them
/// (`[::1]:7000`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(formatter, "[{}]:{}", self.host, self.port)
        } else {
            write!(formatter, "{}:{}", self.host, self.port)
        }
    }
}

/// One memcached server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MemcachedServer {
    /// A server reached over TCP.
    Tcp(Location),
    /// A server reached through a Unix socket at this path.
    Socket(PathBuf),
}

impl fmt::Display for MemcachedServer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemcachedServer::Tcp(location) => location.fmt(formatter),
            MemcachedServer::Socket(path) => write!(formatter, "{}", path.display()),
        }
    }
}

impl fmt::Display for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StorageUri").field(&self.redacted()).finish()
    }
}

impl StorageUri {
    /// The scheme this configuration came from: `"memory"`, `"redis"`,
    /// `"valkeys"`, `"redis+cluster"`, `"mongodb+srv"`, …
    pub fn scheme_name(&self) -> &'static str {
        match self {
            StorageUri::Memory => "memory",
            StorageUri::Redis { url, flavor } => {
                let tls = url.starts_with("rediss://");
                let unix = url.starts_with("redis+unix://");
                match (flavor, tls, unix) {
                    (RedisFlavor::Redis, true, _) => "rediss",
                    (RedisFlavor::Redis, _, true) => "redis+unix",
                    (RedisFlavor::Redis, _, _) => "redis",
                    (RedisFlavor::Valkey, true, _) => "valkeys",
                    (RedisFlavor::Valkey, _, true) => "valkey+unix",
                    (RedisFlavor::Valkey, _, _) => "valkey",
                }
            }
            StorageUri::RedisCluster { flavor, .. } => match flavor {
                RedisFlavor::Redis => "redis+cluster",
                RedisFlavor::Valkey => "valkey+cluster",
            },
            StorageUri::RedisSentinel { flavor, .. } => match flavor {
                RedisFlavor::Redis => "redis+sentinel",
                RedisFlavor::Valkey => "valkey+sentinel",
            },
            StorageUri::Memcached { .. } => "memcached",
            StorageUri::MongoDb { url } => {
                if url.starts_with("mongodb+srv://") {
                    "mongodb+srv"
                } else {
                    "mongodb"
                }
            }
        }
    }

    /// The URI with any password replaced by `***`, for logs and `limiter config`.
    ///
    /// Redis and MongoDB URLs come back as given (scheme lower-cased). The
    /// other forms are rebuilt from the parsed fields, so they come back in a
    /// normal form: no whitespace around locations, ignored parts dropped.
    pub fn redacted(&self) -> String {
        let scheme = self.scheme_name();
        match self {
            StorageUri::Memory => "memory://".to_owned(),
            StorageUri::Redis { url, .. } => {
                // Show the scheme the user wrote, not the one handed to the crate.
                let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
                masked(&format!("{scheme}://{after_scheme}"))
            }
            StorageUri::RedisCluster {
                nodes,
                username,
                password,
                ..
            } => format!(
                "{scheme}://{}{}",
                redacted_userinfo(username, password),
                join(nodes)
            ),
            StorageUri::RedisSentinel {
                sentinels,
                service_name,
                username,
                password,
                db,
                ..
            } => {
                let query = db.map(|db| format!("?db={db}")).unwrap_or_default();
                format!(
                    "{scheme}://{}{}/{service_name}{query}",
                    redacted_userinfo(username, password),
                    join(sentinels)
                )
            }
            StorageUri::Memcached { servers } => match servers.as_slice() {
                // A socket path starts with `/`, which supplies the third slash.
                [MemcachedServer::Socket(path)] => format!("memcached://{}", path.display()),
                servers => format!("memcached://{}", join(servers)),
            },
            StorageUri::MongoDb { url } => masked(url),
        }
    }
}
