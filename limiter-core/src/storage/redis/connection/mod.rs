//! The connection to Redis: standalone, cluster or sentinel-monitored, each opened by its own
//! file, and the one place that sends a command over whichever it is.

mod cluster;
mod lazy;
mod sentinel;
mod standalone;
mod timeouts;
mod tls;

pub(super) use lazy::{not_connected, spawn as spawn_pending};
pub(crate) use timeouts::query_timeouts;
pub(crate) use tls::{is_tls_error, TlsCertificates};

use crate::uri::StorageUri;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisError, RedisResult, Value};
use sentinel::SentinelConnection;
use std::sync::Arc;
use std::time::Duration;

/// A connection to a standalone server, a cluster, or the master of a sentinel-monitored
/// service.
pub(super) enum Connection {
    /// One server, through a manager that reconnects by itself.
    Standalone(ConnectionManager),
    /// A cluster, with the credentials kept for the per-node connections of `reset`.
    Cluster {
        /// Routes each command to the node owning its keys.
        connection: ClusterConnection,
        /// The user name of the URI.
        username: Option<String>,
        /// The password of the URI.
        password: Option<String>,
    },
    /// The current master, followed across failovers.
    Sentinel(SentinelConnection),
    /// One of the others, opened in the background (lazy start); never itself pending.
    Pending(Arc<lazy::Pending>),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Connection::Standalone(_) => "Standalone",
            Connection::Cluster { .. } => "Cluster",
            Connection::Sentinel(_) => "Sentinel",
            Connection::Pending(_) => "Pending",
        })
    }
}

impl Connection {
    /// Whether this is a cluster (where a script call may only touch keys of one slot).
    pub(super) fn is_cluster(&self) -> bool {
        match self {
            Connection::Cluster { .. } => true,
            Connection::Pending(pending) => pending.is_cluster(),
            _ => false,
        }
    }

    /// The open connection: this one, or the one a pending connection opened since; `None`
    /// while it is still pending.
    pub(super) fn opened(&self) -> Option<&Connection> {
        match self {
            Connection::Pending(pending) => pending.get(),
            open => Some(open),
        }
    }

    /// Sends one command to the server (standalone, sentinel master) or the node owning its
    /// keys; fails at once while the connection is pending.
    pub(super) async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Connection::Pending(pending) => lazy::query(pending, cmd).await,
            open => open.query_open(cmd).await,
        }
    }

    /// [`query`](Self::query) on a connection that is not pending.
    async fn query_open(&self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Connection::Standalone(manager) => cmd.query_async(&mut manager.clone()).await,
            Connection::Cluster { connection, .. } => {
                cmd.query_async(&mut connection.clone()).await
            }
            Connection::Sentinel(sentinel) => sentinel.query(cmd).await,
            Connection::Pending(_) => Err(lazy::not_connected()),
        }
    }
}

/// How long connecting, and then each command, may take.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// Connecting, authenticating and the start-up proof.
    pub(super) connect: Duration,
    /// One command, once connected.
    pub(super) command: Duration,
}

/// Opens the connection a Redis URI names. `certificates` are for TLS URIs only.
pub(super) async fn connect(
    uri: StorageUri,
    timeouts: Timeouts,
    certificates: Option<TlsCertificates>,
) -> RedisResult<Connection> {
    let Timeouts {
        connect: timeout,
        command,
    } = timeouts;
    #[cfg(feature = "tls")]
    if let Some(redis::TlsCertificates {
        root_cert: Some(pem),
        ..
    }) = &certificates
    {
        tls::check_root_certificates(pem)?;
    }
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(command))
        .set_max_delay(timeout);
    match uri {
        StorageUri::Redis { ref url, .. } => {
            standalone::connect(url, &uri, manager_config, timeout, certificates).await
        }
        StorageUri::RedisCluster {
            nodes,
            username,
            password,
            tls,
            ..
        } => {
            let options = cluster::Options {
                nodes: &nodes,
                tls,
                username,
                password,
                timeout,
            };
            cluster::connect(options, certificates).await
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
            let options = sentinel::Options {
                sentinels: &sentinels,
                service_name,
                username: username.as_deref(),
                password: password.as_deref(),
                db,
            };
            let connection = sentinel::connect(options, manager_config).await?;
            Ok(Connection::Sentinel(connection))
        }
        other => Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "not a Redis storage URI",
            other.redacted(),
        ))),
    }
}
