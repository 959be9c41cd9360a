//! A standalone server (`redis://`, `rediss://`, `redis+unix://`), through a connection manager
//! that reconnects by itself.

use super::{tls, Connection};
use crate::uri::StorageUri;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisResult;
use std::time::Duration;

/// Connects to the server at `url` (`uri` parsed, for error messages).
pub(super) async fn connect(
    url: &str,
    uri: &StorageUri,
    manager_config: ConnectionManagerConfig,
    timeout: Duration,
    certificates: Option<tls::TlsCertificates>,
) -> RedisResult<Connection> {
    let uses_tls = url.starts_with("rediss://");
    let client = if uses_tls {
        tls::ensure_crypto_provider();
        match certificates {
            Some(certificates) => tls::client_with_certificates(url, certificates)?,
            None => redis::Client::open(url)?,
        }
    } else if certificates.is_some() {
        return Err(tls::certificates_without_tls(uri));
    } else {
        redis::Client::open(url)?
    };
    if uses_tls {
        tls::tls_preflight(&client, timeout).await?;
    }
    let manager = ConnectionManager::new_with_config(client, manager_config).await?;
    Ok(Connection::Standalone(manager))
}
