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

//!
//! # Layout
//!
//! * `storage_uri.rs`: [`StorageUri`] and its parts; `schemes.rs`: parsing, per scheme;
//!   `error.rs`: [`UriError`]; `redact.rs`: [`masked`]; `parts.rs`: URI syntax.

mod error;
mod parts;
mod redact;
mod schemes;
mod storage_uri;
#[cfg(test)]
mod tests;

pub use error::UriError;
pub use redact::{is_masked, masked};
pub use storage_uri::{Location, MemcachedServer, RedisFlavor, StorageUri, SCHEMES};
