//! Parsing of storage URIs (`storage_uri`) into a typed configuration.
//!
//! The accepted schemes and their meaning follow the Python `limits` library
//! (5.8) used by Flask-Limiter:
//!
//! | Scheme | Result |
//! |---|---|
//! | `memory://` | [`StorageUri::Memory`] |
//! | `redis://`, `rediss://`, `redis+unix://` (and the `valkey` spellings) | [`StorageUri::Redis`] |
//! | `redis+cluster://[user:pass@]host:port[,host:port…]` | [`StorageUri::RedisCluster`] |
//! | `redis+sentinel://[user:pass@]host:port[,host:port…]/service_name[?db=n]` | [`StorageUri::RedisSentinel`] |
//! | `memcached://host:port[,host:port…]` or `memcached:///path/to/socket` | [`StorageUri::Memcached`] |
//! | `mongodb://…`, `mongodb+srv://…` | [`StorageUri::MongoDb`] |
//!
//! Decisions where this port differs from, or pins down, the Python behaviour:
//!
//! * The whole URI is trimmed of surrounding whitespace first, because values
//!   read from environment variables or files often end with a newline.
//! * Every URI needs `scheme://`. The scheme is matched case-insensitively.
//! * `memory://` ignores anything after `://`, as Python does.
//! * `redis*` / `valkey*` URLs are not validated here: they are handed to the
//!   redis crate (which defaults the port to 6379). Only the scheme changes:
//!   it is lower-cased and `valkey*` becomes `redis*`.
//! * `mongodb*` URLs are passed unchanged, except that the scheme is
//!   lower-cased.
//! * In the multi-location forms (cluster, sentinel, memcached) every location
//!   needs a host *and* a port from 1 to 65535, as in `limits` 5.8. Whitespace
//!   around a location is ignored. An IPv6 host must be written in brackets.
//! * User names and passwords are percent-decoded. An empty user name or
//!   password counts as absent, as Python's truthiness checks make it. The
//!   credentials end at the first `/`, `?` or `#`, so these characters must be
//!   percent-encoded inside a password (as for any URL).
//! * Sentinel: the service name is the path with every `/` removed (as in
//!   Python). It must be present in the URI: there is no `service_name`
//!   option to fall back on, so a missing or empty name is an error.
//! * Cluster and sentinel ignore any other path or query parameter, as Python
//!   does. Cluster TLS has no scheme in `limits` (`rediss+cluster` does not
//!   exist there), so [`StorageUri::RedisCluster::tls`] is always `false`.
//! * Memcached: a non-empty path wins over the locations and names a Unix
//!   socket. Python's quirk of reading `memcached://host:port/` as the socket
//!   `/` is *not* reproduced: a path of just `/` counts as no path. User
//!   names, passwords and query strings are ignored, as the synchronous Python
//!   storage ignores them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

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

/// What a cluster URI must contain, quoted in error messages.
const EXPECTED_CLUSTER: &str = "host:port[,host:port...]";
/// What a memcached URI must contain, quoted in error messages.
const EXPECTED_MEMCACHED: &str = "host:port[,host:port...] or /path/to/socket";

/// Parsed `storage_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    fn prefix(self) -> &'static str {
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

/// Why a storage URI was rejected.
///
/// Every message quotes the URI with its password masked (see [`masked`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// The URI was empty or only whitespace.
    #[error("empty storage URI; expected a URI such as 'memory://' or 'redis://localhost:6379'")]
    Empty,
    /// The URI has no `scheme://` prefix.
    #[error("malformed storage URI '{uri}'; expected '<scheme>://...', such as 'redis://localhost:6379'")]
    Malformed {
        /// The masked URI.
        uri: String,
    },
    /// The scheme is not one of [`SCHEMES`].
    #[error("unknown storage scheme '{scheme}' in '{uri}'; expected one of: {accepted}", accepted = SCHEMES.join(", "))]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
        /// The masked URI.
        uri: String,
    },
    /// A multi-location URI named no location at all.
    #[error("no locations in '{uri}'; expected {expected}")]
    NoLocations {
        /// The masked URI.
        uri: String,
        /// What this scheme expects after `://`.
        expected: &'static str,
    },
    /// A location lacks its host or its port.
    #[error("missing host or port in location '{location}' of '{uri}'; expected host:port")]
    MissingHostOrPort {
        /// The location as written.
        location: String,
        /// The masked URI.
        uri: String,
    },
    /// A location's port is not a number from 1 to 65535.
    #[error(
        "invalid port '{port}' in location '{location}' of '{uri}'; expected a number from 1 to 65535"
    )]
    InvalidPort {
        /// The port as written.
        port: String,
        /// The location as written.
        location: String,
        /// The masked URI.
        uri: String,
    },
    /// A location cannot be split into host and port, such as an IPv6 address without brackets.
    #[error("malformed location '{location}' of '{uri}'; expected host:port, with an IPv6 address in brackets such as [::1]:6379")]
    MalformedLocation {
        /// The location as written.
        location: String,
        /// The masked URI.
        uri: String,
    },
    /// A sentinel URI has no service name in its path.
    #[error("'service_name' not provided in '{uri}'; expected {scheme}://host:port[,host:port...]/service_name")]
    MissingServiceName {
        /// The scheme, `redis+sentinel` or `valkey+sentinel`.
        scheme: &'static str,
        /// The masked URI.
        uri: String,
    },
    /// The `db` query parameter is not an integer.
    #[error("invalid db '{value}' in '{uri}'; expected an integer such as ?db=0")]
    InvalidDb {
        /// The value as written.
        value: String,
        /// The masked URI.
        uri: String,
    },
    /// Percent-decoded credentials are not UTF-8 text.
    #[error("invalid percent-encoding in the credentials of '{uri}'; expected %XX escapes that decode to UTF-8 text")]
    InvalidCredentials {
        /// The masked URI.
        uri: String,
    },
}

impl FromStr for StorageUri {
    type Err = UriError;

    fn from_str(uri: &str) -> Result<Self, Self::Err> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Err(UriError::Empty);
        }
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(UriError::Malformed { uri: masked(uri) });
        };
        if !is_scheme(scheme) {
            return Err(UriError::Malformed { uri: masked(uri) });
        }
        let scheme = scheme.to_ascii_lowercase();
        let flavor = if scheme.starts_with("valkey") {
            RedisFlavor::Valkey
        } else {
            RedisFlavor::Redis
        };
        match scheme.as_str() {
            "memory" => Ok(StorageUri::Memory),
            "redis" | "rediss" | "redis+unix" | "valkey" | "valkeys" | "valkey+unix" => {
                // The redis crate knows only the redis spellings; the suffix
                // ("", "s" or "+unix") carries over unchanged.
                let suffix = &scheme[flavor.prefix().len()..];
                Ok(StorageUri::Redis {
                    url: format!("redis{suffix}://{rest}"),
                    flavor,
                })
            }
            "redis+cluster" | "valkey+cluster" => {
                let parts = Parts::split(rest);
                let (username, password) = credentials(parts.userinfo, uri)?;
                let nodes = locations(parts.hosts, uri, EXPECTED_CLUSTER)?;
                Ok(StorageUri::RedisCluster {
                    nodes,
                    username,
                    password,
                    tls: false,
                    flavor,
                })
            }
            "redis+sentinel" | "valkey+sentinel" => parse_sentinel(rest, uri, flavor),
            "memcached" => parse_memcached(rest, uri),
            "mongodb" | "mongodb+srv" => Ok(StorageUri::MongoDb {
                url: format!("{scheme}://{rest}"),
            }),
            _ => Err(UriError::UnknownScheme {
                scheme,
                uri: masked(uri),
            }),
        }
    }
}

impl StorageUri {
    /// Parses a storage URI; the same as [`str::parse`].
    ///
    /// # Errors
    ///
    /// A [`UriError`] naming the URI (password masked) and what was expected.
    ///
    /// # Examples
    ///
    /// ```
    /// use limiter_core::uri::{Location, RedisFlavor, StorageUri};
    ///
    /// let uri = StorageUri::parse("redis+sentinel://:secret@10.0.0.1:26379,[::1]:26380/mymaster")?;
    /// assert_eq!(
    ///     uri,
    ///     StorageUri::RedisSentinel {
    ///         sentinels: vec![
    ///             Location { host: "10.0.0.1".into(), port: 26379 },
    ///             Location { host: "::1".into(), port: 26380 },
    ///         ],
    ///         service_name: "mymaster".into(),
    ///         username: None,
    ///         password: Some("secret".into()),
    ///         db: None,
    ///         flavor: RedisFlavor::Redis,
    ///     }
    /// );
    /// assert_eq!(uri.redacted(), "redis+sentinel://:***@10.0.0.1:26379,[::1]:26380/mymaster");
    ///
    /// let error = StorageUri::parse("redis+cluster://localhost").unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "missing host or port in location 'localhost' of 'redis+cluster://localhost'; expected host:port"
    /// );
    /// # Ok::<(), limiter_core::uri::UriError>(())
    /// ```
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        uri.parse()
    }

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

/// Returns `uri` with the password replaced by `***`.
///
/// Masks the password in the user information (`user:***@host`) and the
/// value of any `password=` query parameter. Everything else, including an
/// unparseable URI, is returned unchanged.
///
/// ```
/// assert_eq!(
///     limiter_core::uri::masked("rediss://user:s3cret@host:6380/0"),
///     "rediss://user:***@host:6380/0"
/// );
/// ```
pub fn masked(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let parts = Parts::split(rest);
    let mut result = format!("{scheme}://");
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((user, password)) if !password.is_empty() => {
                result.push_str(user);
                result.push_str(":***");
            }
            _ => result.push_str(userinfo),
        }
        result.push('@');
    }
    result.push_str(parts.hosts);
    result.push_str(parts.path);
    if let Some(query) = parts.query {
        result.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value))
                    if name.eq_ignore_ascii_case("password") && !value.is_empty() =>
                {
                    format!("{name}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        result.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = parts.fragment {
        result.push('#');
        result.push_str(fragment);
    }
    result
}

/// The pieces of what follows `scheme://`, split as RFC 3986 does: the
/// authority ends at the first `/`, `?` or `#`.
struct Parts<'a> {
    /// Text before the last `@` of the authority.
    userinfo: Option<&'a str>,
    /// The authority after the user information: the comma-separated locations.
    hosts: &'a str,
    /// Empty, or starting with `/`.
    path: &'a str,
    /// Text after `?`, without the fragment.
    query: Option<&'a str>,
    /// Text after `#`.
    fragment: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn split(rest: &'a str) -> Self {
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        Parts {
            userinfo,
            hosts,
            path,
            query,
            fragment,
        }
    }
}

/// Whether `scheme` has the RFC 3986 shape: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(scheme: &str) -> bool {
    let mut characters = scheme.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && characters
            .all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
}

fn parse_sentinel(rest: &str, uri: &str, flavor: RedisFlavor) -> Result<StorageUri, UriError> {
    let scheme = match flavor {
        RedisFlavor::Redis => "redis+sentinel",
        RedisFlavor::Valkey => "valkey+sentinel",
    };
    let parts = Parts::split(rest);
    let (username, password) = credentials(parts.userinfo, uri)?;
    let sentinels = locations(parts.hosts, uri, "host:port[,host:port...]/service_name")?;
    // Python removes every slash from the path, so "/mymaster/" also works.
    let service_name = parts.path.replace('/', "");
    if service_name.is_empty() {
        return Err(UriError::MissingServiceName {
            scheme,
            uri: masked(uri),
        });
    }
    let mut db = None;
    for pair in parts.query.unwrap_or_default().split('&') {
        if let Some(("db", value)) = pair.split_once('=') {
            db = Some(value.parse().map_err(|_| UriError::InvalidDb {
                value: value.to_owned(),
                uri: masked(uri),
            })?);
        }
    }
    Ok(StorageUri::RedisSentinel {
        sentinels,
        service_name,
        username,
        password,
        db,
        flavor,
    })
}

fn parse_memcached(rest: &str, uri: &str) -> Result<StorageUri, UriError> {
    let parts = Parts::split(rest);
    // Checked even when a socket path wins, as Python does.
    let tcp = if parts.hosts.trim().is_empty() {
        Vec::new()
    } else {
        locations(parts.hosts, uri, EXPECTED_MEMCACHED)?
    };
    // A lone "/" is a trailing slash, not the socket "/" Python would try.
    let servers = if parts.path.len() > 1 {
        vec![MemcachedServer::Socket(PathBuf::from(parts.path))]
    } else {
        tcp.into_iter().map(MemcachedServer::Tcp).collect()
    };
    if servers.is_empty() {
        return Err(UriError::NoLocations {
            uri: masked(uri),
            expected: EXPECTED_MEMCACHED,
        });
    }
    Ok(StorageUri::Memcached { servers })
}

/// Decodes `user:password`; an empty part counts as absent.
fn credentials(
    userinfo: Option<&str>,
    uri: &str,
) -> Result<(Option<String>, Option<String>), UriError> {
    let Some(userinfo) = userinfo else {
        return Ok((None, None));
    };
    let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |text: &str| -> Result<Option<String>, UriError> {
        if text.is_empty() {
            return Ok(None);
        }
        percent_decode(text)
            .map(Some)
            .ok_or_else(|| UriError::InvalidCredentials { uri: masked(uri) })
    };
    Ok((decode(username)?, decode(password)?))
}

/// Splits `hosts` on commas into at least one location.
fn locations(hosts: &str, uri: &str, expected: &'static str) -> Result<Vec<Location>, UriError> {
    if hosts.trim().is_empty() {
        return Err(UriError::NoLocations {
            uri: masked(uri),
            expected,
        });
    }
    hosts
        .split(',')
        .map(|location| parse_location(location.trim(), uri))
        .collect()
}

fn parse_location(location: &str, uri: &str) -> Result<Location, UriError> {
    let missing = || UriError::MissingHostOrPort {
        location: location.to_owned(),
        uri: masked(uri),
    };
    let malformed = || UriError::MalformedLocation {
        location: location.to_owned(),
        uri: masked(uri),
    };
    let (host, port) = if let Some(bracketed) = location.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(malformed)?;
        match after.strip_prefix(':') {
            Some(port) => (host, port),
            None if after.is_empty() => return Err(missing()),
            None => return Err(malformed()),
        }
    } else {
        let (host, port) = location.rsplit_once(':').ok_or_else(missing)?;
        if host.contains(':') {
            return Err(malformed());
        }
        (host, port)
    };
    if host.is_empty() || port.is_empty() {
        return Err(missing());
    }
    // Digits only: u16 parsing alone would accept "+1".
    let port = match port.parse::<u16>() {
        Ok(number) if number > 0 && port.bytes().all(|byte| byte.is_ascii_digit()) => number,
        _ => {
            return Err(UriError::InvalidPort {
                port: port.to_owned(),
                location: location.to_owned(),
                uri: masked(uri),
            })
        }
    };
    Ok(Location {
        host: host.to_owned(),
        port,
    })
}

/// Decodes `%XX` escapes. A `%` not followed by two hexadecimal digits is
/// kept as is (like Python's `unquote`); `None` if the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

/// Encodes everything but RFC 3986 unreserved characters, so a decoded user
/// name can be written back into a URI.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `user:***@`, `user@`, `:***@` or nothing.
fn redacted_userinfo(username: &Option<String>, password: &Option<String>) -> String {
    let username = username.as_deref().map(percent_encode).unwrap_or_default();
    match password {
        Some(_) => format!("{username}:***@"),
        None if username.is_empty() => String::new(),
        None => format!("{username}@"),
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: &str, port: u16) -> Location {
        Location {
            host: host.to_owned(),
            port,
        }
    }

    fn parse(uri: &str) -> StorageUri {
        StorageUri::parse(uri).unwrap_or_else(|error| panic!("{uri}: {error}"))
    }

    fn error(uri: &str) -> String {
        StorageUri::parse(uri).unwrap_err().to_string()
    }

    #[test]
    fn memory_ignores_anything_after_the_scheme() {
        for uri in [
            "memory://",
            "MEMORY://",
            "  memory://\n",
            "memory://ignored/path?x=1",
        ] {
            assert_eq!(parse(uri), StorageUri::Memory, "{uri}");
        }
        assert_eq!(parse("memory://").scheme_name(), "memory");
        assert_eq!(parse("memory://x").redacted(), "memory://");
    }

    #[test]
    fn redis_urls_pass_through_with_a_normal_scheme() {
        let cases = [
            (
                "redis://localhost",
                "redis://localhost",
                RedisFlavor::Redis,
                "redis",
            ),
            (
                "rediss://user:p%40ss@host:6380/1?ssl_cert_reqs=none",
                "rediss://user:p%40ss@host:6380/1?ssl_cert_reqs=none",
                RedisFlavor::Redis,
                "rediss",
            ),
            (
                "redis+unix:///tmp/redis.sock?db=2",
                "redis+unix:///tmp/redis.sock?db=2",
                RedisFlavor::Redis,
                "redis+unix",
            ),
            (
                "REDIS://Host:6379/0",
                "redis://Host:6379/0",
                RedisFlavor::Redis,
                "redis",
            ),
            (
                "valkey://host:6379/3",
                "redis://host:6379/3",
                RedisFlavor::Valkey,
                "valkey",
            ),
            (
                "valkeys://:pw@host",
                "rediss://:pw@host",
                RedisFlavor::Valkey,
                "valkeys",
            ),
            (
                "Valkey+Unix:///run/valkey.sock",
                "redis+unix:///run/valkey.sock",
                RedisFlavor::Valkey,
                "valkey+unix",
            ),
        ];
        for (uri, url, flavor, scheme) in cases {
            let parsed = parse(uri);
            assert_eq!(
                parsed,
                StorageUri::Redis {
                    url: url.to_owned(),
                    flavor
                },
                "{uri}"
            );
            assert_eq!(parsed.scheme_name(), scheme, "{uri}");
        }
    }

    #[test]
    fn redis_redaction_keeps_the_scheme_as_written() {
        assert_eq!(
            parse("rediss://user:p%40ss@host:6380/1").redacted(),
            "rediss://user:***@host:6380/1"
        );
        assert_eq!(
            parse("valkeys://:pw@host").redacted(),
            "valkeys://:***@host"
        );
        assert_eq!(
            parse("valkey+unix:///s.sock").redacted(),
            "valkey+unix:///s.sock"
        );
        assert_eq!(parse("redis://user@host").redacted(), "redis://user@host");
    }

    #[test]
    fn cluster_locations_and_credentials() {
        let parsed =
            parse("redis+cluster://us%3Aer:p%40ss%2Fword@node1:7000, [::1]:7001 ,10.0.0.3:7002");
        assert_eq!(
            parsed,
            StorageUri::RedisCluster {
                nodes: vec![
                    location("node1", 7000),
                    location("::1", 7001),
                    location("10.0.0.3", 7002),
                ],
                username: Some("us:er".to_owned()),
                password: Some("p@ss/word".to_owned()),
                tls: false,
                flavor: RedisFlavor::Redis,
            }
        );
        assert_eq!(parsed.scheme_name(), "redis+cluster");
        assert_eq!(
            parsed.redacted(),
            "redis+cluster://us%3Aer:***@node1:7000,[::1]:7001,10.0.0.3:7002"
        );
    }

    #[test]
    fn cluster_empty_credentials_count_as_absent() {
        let parsed = parse("VALKEY+CLUSTER://:@h:1/ignored?ignored=1");
        assert_eq!(
            parsed,
            StorageUri::RedisCluster {
                nodes: vec![location("h", 1)],
                username: None,
                password: None,
                tls: false,
                flavor: RedisFlavor::Valkey,
            }
        );
        assert_eq!(parsed.scheme_name(), "valkey+cluster");
        assert_eq!(parsed.redacted(), "valkey+cluster://h:1");
        assert_eq!(
            parse("redis+cluster://admin@h:1").redacted(),
            "redis+cluster://admin@h:1"
        );
    }

    #[test]
    fn malformed_percent_escapes_are_kept_literally() {
        let StorageUri::RedisCluster { password, .. } = parse("redis+cluster://:100%25%zz%4@h:1")
        else {
            panic!("not a cluster");
        };
        assert_eq!(password.as_deref(), Some("100%%zz%4"));
    }

    #[test]
    fn sentinel_service_name_db_and_credentials() {
        let parsed =
            parse("redis+sentinel://user:secret@s1:26379,[2001:db8::1]:26380/mymaster?db=3&x=y");
        assert_eq!(
            parsed,
            StorageUri::RedisSentinel {
                sentinels: vec![location("s1", 26379), location("2001:db8::1", 26380)],
                service_name: "mymaster".to_owned(),
                username: Some("user".to_owned()),
                password: Some("secret".to_owned()),
                db: Some(3),
                flavor: RedisFlavor::Redis,
            }
        );
        assert_eq!(parsed.scheme_name(), "redis+sentinel");
        assert_eq!(
            parsed.redacted(),
            "redis+sentinel://user:***@s1:26379,[2001:db8::1]:26380/mymaster?db=3"
        );
    }

    #[test]
    fn sentinel_path_loses_every_slash() {
        let parsed = parse("valkey+sentinel://s1:26379/my/master/");
        assert_eq!(
            parsed,
            StorageUri::RedisSentinel {
                sentinels: vec![location("s1", 26379)],
                service_name: "mymaster".to_owned(),
                username: None,
                password: None,
                db: None,
                flavor: RedisFlavor::Valkey,
            }
        );
        assert_eq!(parsed.scheme_name(), "valkey+sentinel");
        assert_eq!(parsed.redacted(), "valkey+sentinel://s1:26379/mymaster");
    }

    #[test]
    fn memcached_locations() {
        let parsed = parse("memcached://mc1:11211,[::1]:11212");
        assert_eq!(
            parsed,
            StorageUri::Memcached {
                servers: vec![
                    MemcachedServer::Tcp(location("mc1", 11211)),
                    MemcachedServer::Tcp(location("::1", 11212)),
                ]
            }
        );
        assert_eq!(parsed.scheme_name(), "memcached");
        assert_eq!(parsed.redacted(), "memcached://mc1:11211,[::1]:11212");
    }

    #[test]
    fn memcached_socket_path_wins() {
        let socket = StorageUri::Memcached {
            servers: vec![MemcachedServer::Socket(PathBuf::from(
                "/tmp/memcached.sock",
            ))],
        };
        assert_eq!(parse("memcached:///tmp/memcached.sock"), socket);
        assert_eq!(parse("memcached://h:1/tmp/memcached.sock"), socket);
        assert_eq!(socket.redacted(), "memcached:///tmp/memcached.sock");
    }

    #[test]
    fn memcached_trailing_slash_is_not_a_socket() {
        assert_eq!(
            parse("memcached://h:11211/"),
            StorageUri::Memcached {
                servers: vec![MemcachedServer::Tcp(location("h", 11211))]
            }
        );
    }

    #[test]
    fn memcached_credentials_are_ignored_but_masked_in_errors() {
        assert_eq!(
            parse("memcached://u:p@h:1?x=1"),
            StorageUri::Memcached {
                servers: vec![MemcachedServer::Tcp(location("h", 1))]
            }
        );
        assert_eq!(
            error("memcached://u:p@h"),
            "missing host or port in location 'h' of 'memcached://u:***@h'; expected host:port"
        );
    }

    #[test]
    fn mongodb_urls_pass_through() {
        let cases = [
            (
                "mongodb://user:pw@h1:27017,h2:27017/?replicaSet=rs0",
                "mongodb://user:pw@h1:27017,h2:27017/?replicaSet=rs0",
                "mongodb",
                "mongodb://user:***@h1:27017,h2:27017/?replicaSet=rs0",
            ),
            (
                "MongoDB+SRV://cluster0.example.net/limits",
                "mongodb+srv://cluster0.example.net/limits",
                "mongodb+srv",
                "mongodb+srv://cluster0.example.net/limits",
            ),
        ];
        for (uri, url, scheme, redacted) in cases {
            let parsed = parse(uri);
            assert_eq!(
                parsed,
                StorageUri::MongoDb {
                    url: url.to_owned()
                }
            );
            assert_eq!(parsed.scheme_name(), scheme);
            assert_eq!(parsed.redacted(), redacted);
        }
    }

    #[test]
    fn from_str_matches_parse() {
        let uri = "redis+cluster://h:1";
        assert_eq!(uri.parse::<StorageUri>(), StorageUri::parse(uri));
    }

    #[test]
    fn location_display_brackets_ipv6() {
        assert_eq!(location("::1", 7000).to_string(), "[::1]:7000");
        assert_eq!(location("localhost", 6379).to_string(), "localhost:6379");
        assert_eq!(
            MemcachedServer::Socket(PathBuf::from("/s")).to_string(),
            "/s"
        );
    }

    #[test]
    fn masking() {
        let cases = [
            ("redis://:secret@h:1/0", "redis://:***@h:1/0"),
            ("redis://user:@h", "redis://user:@h"),
            ("redis://user@h", "redis://user@h"),
            (
                "redis://h:1/0?password=secret&db=1",
                "redis://h:1/0?password=***&db=1",
            ),
            ("mongodb://u:p@a@h/db#frag", "mongodb://u:***@h/db#frag"),
            ("no scheme:secret@h", "no scheme:secret@h"),
            ("", ""),
        ];
        for (uri, expected) in cases {
            assert_eq!(masked(uri), expected, "{uri}");
        }
    }

    #[test]
    fn empty_uri() {
        assert_eq!(StorageUri::parse(" \n"), Err(UriError::Empty));
        assert_eq!(
            error(""),
            "empty storage URI; expected a URI such as 'memory://' or 'redis://localhost:6379'"
        );
    }

    #[test]
    fn malformed_uri() {
        assert_eq!(
            error("localhost:6379"),
            "malformed storage URI 'localhost:6379'; expected '<scheme>://...', such as 'redis://localhost:6379'"
        );
        assert_eq!(
            StorageUri::parse("://h:1"),
            Err(UriError::Malformed {
                uri: "://h:1".to_owned()
            })
        );
        assert!(matches!(
            StorageUri::parse("re dis://h"),
            Err(UriError::Malformed { .. })
        ));
    }

    #[test]
    fn unknown_scheme_lists_the_accepted_ones() {
        assert_eq!(
            error("async+redis://:pw@h:1"),
            "unknown storage scheme 'async+redis' in 'async+redis://:***@h:1'; expected one of: \
             memory, redis, rediss, redis+unix, redis+cluster, redis+sentinel, valkey, valkeys, \
             valkey+unix, valkey+cluster, valkey+sentinel, memcached, mongodb, mongodb+srv"
        );
    }

    #[test]
    fn every_listed_scheme_is_accepted() {
        for scheme in SCHEMES {
            let parsed = parse(&format!("{scheme}://h:1/service"));
            assert_eq!(parsed.scheme_name(), scheme);
        }
    }

    #[test]
    fn no_locations() {
        assert_eq!(
            error("redis+cluster://user:pw@"),
            "no locations in 'redis+cluster://user:***@'; expected host:port[,host:port...]"
        );
        assert_eq!(
            error("redis+sentinel:///mymaster"),
            "no locations in 'redis+sentinel:///mymaster'; expected host:port[,host:port...]/service_name"
        );
        assert_eq!(
            error("memcached:///"),
            "no locations in 'memcached:///'; expected host:port[,host:port...] or /path/to/socket"
        );
    }

    #[test]
    fn missing_host_or_port() {
        assert_eq!(
            error("redis+cluster://localhost"),
            "missing host or port in location 'localhost' of 'redis+cluster://localhost'; expected host:port"
        );
        for (uri, location) in [
            ("redis+cluster://h:1,,h:2", ""),
            ("redis+cluster://h:", "h:"),
            ("redis+cluster://:7000", ":7000"),
            ("redis+cluster://[::1]", "[::1]"),
            ("redis+cluster://[]:1", "[]:1"),
        ] {
            assert_eq!(
                StorageUri::parse(uri),
                Err(UriError::MissingHostOrPort {
                    location: location.to_owned(),
                    uri: uri.to_owned()
                }),
                "{uri}"
            );
        }
    }

    #[test]
    fn invalid_port() {
        assert_eq!(
            error("redis+sentinel://:pw@h:99999/m"),
            "invalid port '99999' in location 'h:99999' of 'redis+sentinel://:***@h:99999/m'; \
             expected a number from 1 to 65535"
        );
        for port in ["0", "abc", "+1", "-1"] {
            assert!(
                matches!(
                    StorageUri::parse(&format!("memcached://h:{port}")),
                    Err(UriError::InvalidPort { .. })
                ),
                "{port}"
            );
        }
    }

    #[test]
    fn malformed_location() {
        assert_eq!(
            error("redis+cluster://::1:7000"),
            "malformed location '::1:7000' of 'redis+cluster://::1:7000'; \
             expected host:port, with an IPv6 address in brackets such as [::1]:6379"
        );
        for location in ["[::1:7000", "[::1]7000"] {
            assert!(
                matches!(
                    StorageUri::parse(&format!("redis+cluster://{location}")),
                    Err(UriError::MalformedLocation { .. })
                ),
                "{location}"
            );
        }
    }

    #[test]
    fn missing_service_name() {
        assert_eq!(
            error("redis+sentinel://:pw@s1:26379"),
            "'service_name' not provided in 'redis+sentinel://:***@s1:26379'; \
             expected redis+sentinel://host:port[,host:port...]/service_name"
        );
        assert_eq!(
            error("valkey+sentinel://s1:26379/"),
            "'service_name' not provided in 'valkey+sentinel://s1:26379/'; \
             expected valkey+sentinel://host:port[,host:port...]/service_name"
        );
    }

    #[test]
    fn invalid_db() {
        assert_eq!(
            error("redis+sentinel://s1:26379/m?db=one"),
            "invalid db 'one' in 'redis+sentinel://s1:26379/m?db=one'; expected an integer such as ?db=0"
        );
    }

    #[test]
    fn invalid_credentials() {
        assert_eq!(
            error("redis+cluster://user:%FF@h:1"),
            "invalid percent-encoding in the credentials of 'redis+cluster://user:***@h:1'; \
             expected %XX escapes that decode to UTF-8 text"
        );
    }
}
