//! A standalone server (`redis://`, `rediss://`, `redis+unix://`), through a connection manager
//! that reconnects by itself, opened only after a direct connection proved the server usable.

use super::{tls, Connection};
use crate::strategy::Strategy;
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
    prove(&client, timeout).await?;
    let manager = ConnectionManager::new_with_config(client, manager_config).await?;
    Ok(Connection::Standalone(manager))
}

/// One direct connection that proves the server usable before the connection manager takes
/// over: connecting (TLS, `AUTH`, `SELECT`), a `PING` (a server that wants a password the URI
/// lacks answers it with `NOAUTH`) and loading the scripts. The manager retries every failed
/// attempt until the timeout, so without this a refused connection, a wrong password or a bad
/// database would all surface as a timeout; here each fails at once with its own error.
pub(super) async fn prove(client: &redis::Client, timeout: Duration) -> RedisResult<()> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("PING")
        .query_async::<()>(&mut connection)
        .await?;
    for strategy in Strategy::ALL {
        crate::storage::redis::scripts::script(strategy)
            .load_async(&mut connection)
            .await?;
    }
    Ok(())
}
