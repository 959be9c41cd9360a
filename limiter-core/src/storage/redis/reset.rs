//! `reset`: every key under the storage's prefix, found with `SCAN` and removed with `UNLINK`
//! on every master (never `KEYS`, which would block the server).

use super::connection::Connection;
use super::errors::backend_error;
use super::storage::RedisStorage;
use crate::storage::error::StorageError;

/// How many keys one `SCAN` step asks for.
const SCAN_COUNT: usize = 1000;

impl RedisStorage {
    /// Removes every key under the prefix; returns how many were removed.
    pub(super) async fn remove_all(&self) -> Result<Option<u64>, StorageError> {
        let pattern = format!("{}:*", glob_escape(&self.inner.key_prefix));
        let Some(connection) = self.inner.connection.opened() else {
            return Err(backend_error(
                self.inner.backend,
                super::connection::not_connected(),
            ));
        };
        match connection {
            Connection::Standalone(manager) => {
                self.scan_and_unlink(manager.clone(), &pattern, true).await
            }
            Connection::Sentinel(_) | Connection::Pending(_) => {
                self.remove_all_through_query(&pattern).await
            }
            Connection::Cluster {
                connection,
                username,
                password,
            } => {
                let credentials = (username.as_deref(), password.as_deref());
                self.remove_all_on_masters(connection.clone(), credentials, &pattern)
                    .await
            }
        }
    }

    /// SCAN and UNLINK through `query`, so that a failover is followed (sentinel).
    async fn remove_all_through_query(&self, pattern: &str) -> Result<Option<u64>, StorageError> {
        let mut removed = 0;
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
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

    /// SCAN and UNLINK on each master of a cluster, over a connection of its own.
    async fn remove_all_on_masters(
        &self,
        mut cluster: redis::cluster_async::ClusterConnection,
        (username, password): (Option<&str>, Option<&str>),
        pattern: &str,
    ) -> Result<Option<u64>, StorageError> {
        let nodes: String = self
            .bounded(redis::cmd("CLUSTER").arg("NODES").query_async(&mut cluster))
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
            let info = redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp(
                host, port,
            ))
            .map_err(|error| backend_error(self.inner.backend, error))?
            .set_redis_settings(settings);
            let client = redis::Client::open(info)
                .map_err(|error| backend_error(self.inner.backend, error))?;
            let node = self
                .bounded(client.get_multiplexed_async_connection())
                .await?;
            if let Some(count) = self.scan_and_unlink(node, pattern, false).await? {
                removed += count;
            }
        }
        Ok(Some(removed))
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

#[cfg(test)]
mod tests {
    use super::*;

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
