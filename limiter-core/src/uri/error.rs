//! Why a storage URI was rejected.

use super::storage_uri::SCHEMES;

/// Why a storage URI was rejected.
///
/// Every message quotes the URI with its password masked (see [`masked`](super::masked)).
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
