//! Redis Sentinel: the master is discovered through the sentinels, and re-discovered when it
//! stops answering or answers as a replica.
//!
//! * The connection to the master is a [`ConnectionManager`] (it reconnects by itself to the
//!   same address).
//! * When a command fails with an I/O error (the master went away) or `READONLY` (the server we
//!   talk to was demoted by a failover), the sentinels are asked for the current master and the
//!   connection is replaced, in a background task so the caller's timeout still holds.
//! * A background task also asks a sentinel (`SENTINEL get-master-addr-by-name`, on one kept
//!   connection) for the master every [`WATCH_INTERVAL`], and reconnects when it moved: after
//!   `SENTINEL FAILOVER` the old master keeps saying `role:master` (and accepting writes) until the
//!   sentinel reconfigures it, ~10 s later, so waiting for errors would keep counting on the old
//!   master meanwhile. The task ends when the storage is dropped.
//! * A `READONLY` reply means the script was refused before it wrote anything, so that command is
//!   sent once more to the new master; after an I/O error it is not (it may have been carried
//!   out), and the error is returned.

use crate::uri::Location;
use redis::aio::ConnectionManager;
use redis::aio::ConnectionManagerConfig;
use redis::aio::MultiplexedConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Cmd, RedisError, RedisResult, Value};
use redis::{ConnectionAddr, ConnectionInfo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// What a sentinel URI gives.
pub(super) struct Options<'a> {
    /// The sentinels.
    pub(super) sentinels: &'a [Location],
    /// The monitored service.
    pub(super) service_name: String,
    /// The user name, for the sentinels and the master.
    pub(super) username: Option<&'a str>,
    /// The password, for the sentinels and the master.
    pub(super) password: Option<&'a str>,
    /// The database on the master, if not 0.
    pub(super) db: Option<i64>,
}

/// Asks the sentinels for the master of the service and connects to it.
pub(super) async fn connect(
    options: Options<'_>,
    manager_config: ConnectionManagerConfig,
) -> RedisResult<SentinelConnection> {
    let addresses = options
        .sentinels
        .iter()
        .map(|location| ConnectionAddr::Tcp(location.host.clone(), location.port));
    let mut sentinel_settings = redis::RedisConnectionInfo::default();
    if let Some(username) = options.username {
        sentinel_settings = sentinel_settings.set_username(username);
    }
    if let Some(password) = options.password {
        sentinel_settings = sentinel_settings.set_password(password);
    }
    let watch = addresses
        .clone()
        .map(|address| {
            Ok(redis::IntoConnectionInfo::into_connection_info(address)?
                .set_redis_settings(sentinel_settings.clone()))
        })
        .collect::<RedisResult<Vec<_>>>()?;
    let service = options.service_name.clone();
    let sentinel = client(addresses, &options)?;
    SentinelConnection::connect(sentinel, manager_config, watch, service).await
}

/// The sentinel client that finds the master, with the URI's credentials and database.
fn client(
    addresses: impl IntoIterator<Item = ConnectionAddr>,
    options: &Options<'_>,
) -> RedisResult<SentinelClient> {
    let mut builder = SentinelClientBuilder::new(
        addresses,
        options.service_name.clone(),
        SentinelServerType::Master,
    )?;
    if let Some(db) = options.db {
        builder = builder.set_client_to_redis_db(db);
    }
    if let Some(username) = options.username {
        builder = builder
            .set_client_to_redis_username(username)
            .set_client_to_sentinel_username(username);
    }
    if let Some(password) = options.password {
        builder = builder
            .set_client_to_redis_password(password)
            .set_client_to_sentinel_password(password);
    }
    builder.build()
}

/// How often the sentinels are asked whether the master moved.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// A connection to the current master of a sentinel-monitored service.
#[derive(Clone)]
pub(in crate::storage::redis) struct SentinelConnection {
    shared: Arc<Shared>,
}

struct Shared {
    sentinel: tokio::sync::Mutex<SentinelClient>,
    config: ConnectionManagerConfig,
    master: RwLock<(ConnectionAddr, ConnectionManager)>,
    resolving: AtomicBool,
}

impl SentinelConnection {
    /// Asks the sentinels for the master and connects to it.
    ///
    /// `sentinels` and `service` are for the background watch (the same sentinels and service
    /// as `sentinel`'s).
    pub async fn connect(
        mut sentinel: SentinelClient,
        config: ConnectionManagerConfig,
        sentinels: Vec<ConnectionInfo>,
        service: String,
    ) -> RedisResult<Self> {
        let client = sentinel.async_get_client().await?;
        let address = client.get_connection_info().addr().clone();
        let manager = ConnectionManager::new_with_config(client, config.clone()).await?;
        let shared = Arc::new(Shared {
            sentinel: tokio::sync::Mutex::new(sentinel),
            config,
            master: RwLock::new((address, manager)),
            resolving: AtomicBool::new(false),
        });
        tokio::spawn(watch(Arc::downgrade(&shared), sentinels, service));
        Ok(SentinelConnection { shared })
    }

    fn current(&self) -> ConnectionManager {
        self.shared.current().1
    }

    /// Sends `cmd` to the master, following a failover as described in the module docs.
    pub async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        let mut master = self.current();
        match cmd.query_async(&mut master).await {
            Ok(value) => Ok(value),
            Err(error) if is_readonly(&error) => {
                self.spawn_resolve().await;
                let mut master = self.current();
                cmd.query_async(&mut master).await
            }
            Err(error) => {
                if is_unreachable(&error) {
                    // Not awaited: the next command uses the new master once it is known.
                    drop(self.spawn_resolve());
                }
                Err(error)
            }
        }
    }

    /// Starts re-discovering the master in a task of its own (at most one at a time) and returns
    /// a future that waits for it.
    fn spawn_resolve(&self) -> impl std::future::Future<Output = ()> {
        let shared = Arc::clone(&self.shared);
        let handle = if shared.resolving.swap(true, Ordering::AcqRel) {
            None
        } else {
            Some(tokio::spawn(async move {
                // Failures are left to the next command, which will try again.
                let _ = shared.resolve().await;
                shared.resolving.store(false, Ordering::Release);
            }))
        };
        async move {
            if let Some(handle) = handle {
                let _ = handle.await;
            }
        }
    }
}

/// Asks a sentinel for the master every [`WATCH_INTERVAL`] until the storage is dropped, and
/// switches to it when it moved.
async fn watch(shared: Weak<Shared>, sentinels: Vec<ConnectionInfo>, service: String) {
    let mut watcher = Watcher {
        sentinels,
        service,
        connection: None,
        next: 0,
    };
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let reported = tokio::time::timeout(WATCH_INTERVAL, watcher.master()).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let moved = matches!(reported, Ok(Some(address)) if address != shared.current().0);
        if moved && !shared.resolving.swap(true, Ordering::AcqRel) {
            // Bounded, so a hung sentinel or master cannot stall the watch.
            let _ = tokio::time::timeout(WATCH_INTERVAL * 5, shared.resolve()).await;
            shared.resolving.store(false, Ordering::Release);
        }
    }
}

/// One connection to one of the sentinels (the next one after a failure).
struct Watcher {
    sentinels: Vec<ConnectionInfo>,
    service: String,
    connection: Option<MultiplexedConnection>,
    next: usize,
}

impl Watcher {
    /// The master's address as a sentinel reports it, if one answers.
    async fn master(&mut self) -> Option<ConnectionAddr> {
        if self.connection.is_none() && !self.sentinels.is_empty() {
            let info = self.sentinels[self.next % self.sentinels.len()].clone();
            self.next = self.next.wrapping_add(1);
            let client = redis::Client::open(info).ok()?;
            self.connection = client.get_multiplexed_async_connection().await.ok();
        }
        let connection = self.connection.as_mut()?;
        let reply: RedisResult<Option<(String, u16)>> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&self.service)
            .query_async(connection)
            .await;
        match reply {
            Ok(Some((host, port))) => Some(ConnectionAddr::Tcp(host, port)),
            Ok(None) => None,
            Err(_) => {
                self.connection = None;
                None
            }
        }
    }
}

impl Shared {
    fn current(&self) -> (ConnectionAddr, ConnectionManager) {
        match self.master.read() {
            Ok(master) => master.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Asks the sentinels for the master and connects to it if it is not the one in use (the
    /// connection manager of the one in use reconnects to it by itself).
    async fn resolve(&self) -> RedisResult<()> {
        let client = self.sentinel.lock().await.async_get_client().await?;
        let address = client.get_connection_info().addr().clone();
        if self.current().0 == address {
            return Ok(());
        }
        let manager = ConnectionManager::new_with_config(client, self.config.clone()).await?;
        match self.master.write() {
            Ok(mut master) => *master = (address, manager),
            Err(poisoned) => *poisoned.into_inner() = (address, manager),
        }
        Ok(())
    }
}

/// The server we talk to is a replica now.
fn is_readonly(error: &RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        || error.to_string().contains("READONLY")
}

/// The server we talk to cannot be reached.
fn is_unreachable(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
}
