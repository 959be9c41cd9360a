//! One plain connection to each TCP server before the start-up check: the connection pool
//! retries a refused connection until its timeout, which would report a server that is not
//! there as a timeout; this reports it at once, as refused.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connects to `name` (`host:port`) and drops the connection; a name that is not `host:port`
/// (a Unix socket path) is left to the pool.
pub(super) fn reachable(name: &str, timeout: Duration) -> std::io::Result<()> {
    let Ok(addresses) = name.to_socket_addrs() else {
        return Ok(());
    };
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(_) => return Ok(()),
            Err(error) => last_error = Some(error),
        }
    }
    last_error.map_or(Ok(()), Err)
}
