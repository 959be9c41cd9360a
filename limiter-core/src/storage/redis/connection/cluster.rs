//! A Redis Cluster (`redis+cluster://`): one client that routes each command to the node owning
//! its keys. (How a batch is split by slot is in `slots.rs`.)

use super::{tls, Connection};
use crate::uri::Location;
use redis::{RedisError, RedisResult};
use std::time::Duration;

/// What a cluster URI gives.
pub(super) struct Options<'a> {
    /// The seed nodes.
    pub(super) nodes: &'a [Location],
    /// Whether the nodes speak TLS.
    pub(super) tls: bool,
    /// The user name, if any.
    pub(super) username: Option<String>,
    /// The password, if any.
    pub(super) password: Option<String>,
    /// The connection and response timeout.
    pub(super) timeout: Duration,
}

/// Connects to the cluster through its seed nodes. `certificates` need TLS nodes.
pub(super) async fn connect(
    options: Options<'_>,
    certificates: Option<tls::TlsCertificates>,
) -> RedisResult<Connection> {
    let Options {
        nodes,
        tls,
        username,
        password,
        timeout,
    } = options;
    let scheme = if tls { "rediss" } else { "redis" };
    let urls: Vec<String> = nodes
        .iter()
        .map(|node| format!("{scheme}://{node}"))
        .collect();
    let mut builder = redis::cluster::ClusterClientBuilder::new(urls)
        .connection_timeout(timeout)
        .response_timeout(timeout);
    if tls {
        tls::ensure_crypto_provider();
    }
    match certificates {
        Some(certificates) if tls => {
            builder = tls::cluster_with_certificates(builder, certificates)
        }
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
