//! Why a MongoDB storage could not be opened: the driver's errors read as a [`ConnectFailure`].
//!
//! What the driver (`mongodb` 3.9) reports for each cause, and how it is read here:
//!
//! | cause | what the driver reports |
//! |---|---|
//! | [`Refused`](ConnectFailure::Refused) | the monitor's heartbeat fails with `ErrorKind::Io` of kind `ConnectionRefused` (or `NotFound` for a Unix socket, `HostUnreachable`, `NetworkUnreachable`); a host that does not resolve gives `ErrorKind::Io` "failed to lookup address information: …" (the standard library's `getaddrinfo` error, of the unmatchable kind `Uncategorized`), or `ErrorKind::DnsResolve` for a `mongodb+srv` name |
//! | [`Timeout`](ConnectFailure::Timeout) | `ErrorKind::ServerSelection` whose message starts with "Server selection timeout" and no heartbeat failed, a heartbeat `ErrorKind::Io` of kind `TimedOut`, or our own bound on the start-up proof |
//! | [`Tls`](ConnectFailure::Tls) | with TLS on, a heartbeat `ErrorKind::Io` of kind `InvalidData` (how `tokio-rustls` reports every rustls error: a corrupt handshake, a rejected certificate) or `UnexpectedEof` (the server closed the connection during the handshake); `ErrorKind::InvalidTlsConfig` for an unreadable CA or client certificate |
//! | [`Authentication`](ConnectFailure::Authentication) | `ErrorKind::Authentication` (the handshake's SASL conversation failed; the server's code 18 `AuthenticationFailed` is its source), or a command error with code 18 or 13 (`Unauthorized`: `ping` needs no credentials, `createIndexes` does) |
//! | [`Database`](ConnectFailure::Database) | a command error with code 73 (`InvalidNamespace`: the server refuses the database name), or `ErrorKind::InvalidArgument` about a database name |
//! | [`Other`](ConnectFailure::Other) | anything else |
//!
//! The server selection error, which is what a `ping` to an unreachable deployment returns, carries
//! each server's failure only as text. The typed failures come from the driver's heartbeats
//! (its SDAM events), which a [`HeartbeatWatch`] records while the storage opens. They also make
//! a refused connection fail fast: once every seed host's heartbeat has failed, the start-up
//! stops there instead of waiting for the server selection timeout.
//!
//! Refused, timeout and TLS are tested over real sockets (`tests/tests/storage_startup.rs`).
//! Authentication and bad database need a server's answer, and no MongoDB server can run on the
//! project's machines, so they were **not tested against a MongoDB server**: their
//! classification is unit-tested on errors built through the driver's public API (a command
//! error with the server's code; `ErrorKind::Authentication` and `ErrorKind::InvalidArgument`
//! cannot be built outside the driver).

use super::BACKEND;
use crate::storage::error::{ConnectFailure, StorageError};
use ::mongodb::error::{Error, ErrorKind};
use ::mongodb::event::sdam::SdamEvent;
use ::mongodb::event::EventHandler;
use ::mongodb::options::{ClientOptions, ServerAddress, Tls};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// MongoDB's `AuthenticationFailed` error code.
const AUTHENTICATION_FAILED: i32 = 18;
/// MongoDB's `Unauthorized` error code (a command that needs credentials the client lacks).
const UNAUTHORIZED: i32 = 13;
/// MongoDB's `InvalidNamespace` error code (e.g. a database name with a `.` or a space).
const INVALID_NAMESPACE: i32 = 73;
/// How the driver's server selection error starts when no server became selectable in time.
const SELECTION_TIMEOUT: &str = "Server selection timeout";

/// The opening of one storage: its URI (masked), whether it uses TLS, its seed hosts and the
/// watch of their heartbeats.
pub(super) struct Startup {
    uri: String,
    tls: bool,
    seeds: Vec<ServerAddress>,
    watch: Arc<HeartbeatWatch>,
}

impl Startup {
    /// Starts watching the heartbeats of the client `options` will make (an SDAM event handler:
    /// the URI parser never sets one).
    pub(super) fn watch(uri: &str, options: &mut ClientOptions) -> Startup {
        let watch = Arc::new(HeartbeatWatch::default());
        let recorder = Arc::clone(&watch);
        options.sdam_event_handler =
            Some(EventHandler::callback(move |event| recorder.record(event)));
        Startup {
            uri: crate::uri::masked(uri),
            tls: matches!(options.tls, Some(Tls::Enabled(_))),
            seeds: options.hosts.clone(),
            watch,
        }
    }

    /// Runs the start-up `proof`; stops early, with the cause, once every seed host's heartbeat
    /// has failed. Every error becomes a [`StorageError::Connect`]. The watch ends here: later
    /// heartbeats are not recorded.
    pub(super) async fn prove<T>(
        &self,
        proof: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let outcome = tokio::select! {
            outcome = proof => outcome.map_err(|error| self.error(error)),
            failure = self.watch.every_seed_failed(&self.seeds) => {
                let cause = classify(&failure, self.tls);
                Err(connect_error(self.uri.clone(), cause, Box::new(failure)))
            }
        };
        self.watch.stop();
        outcome
    }

    /// `error` of the start-up as a [`StorageError::Connect`], its cause read from the driver's
    /// error, or from a recorded heartbeat failure when the driver's error is a server selection
    /// error (which has the servers' failures as text only); our own bound is a timeout.
    fn error(&self, error: StorageError) -> StorageError {
        match error {
            StorageError::Backend { source, .. } => {
                let cause = match source.downcast_ref::<Error>() {
                    Some(driver) if matches!(*driver.kind, ErrorKind::ServerSelection { .. }) => {
                        match self.watch.any_failure() {
                            Some(failure) => classify(&failure, self.tls),
                            None => classify(driver, self.tls),
                        }
                    }
                    Some(driver) => classify(driver, self.tls),
                    None => ConnectFailure::Other,
                };
                connect_error(self.uri.clone(), cause, source)
            }
            StorageError::Timeout { .. } => {
                connect_error(self.uri.clone(), ConnectFailure::Timeout, Box::new(error))
            }
            other => connect_error(self.uri.clone(), ConnectFailure::Other, Box::new(other)),
        }
    }
}

/// A driver error raised before the client exists (parsing the URI, resolving `mongodb+srv`,
/// reading the TLS files) as a [`StorageError::Connect`] for `uri`.
pub(super) fn before_client(uri: &str, error: Error) -> StorageError {
    let tls = false;
    connect_error(
        crate::uri::masked(uri),
        classify(&error, tls),
        Box::new(error),
    )
}

/// The [`StorageError::Connect`] of a start-up step that did not finish within `timeout`.
pub(super) fn timed_out(uri: &str, timeout: Duration) -> StorageError {
    let error = StorageError::Timeout {
        backend: BACKEND,
        timeout,
    };
    connect_error(
        crate::uri::masked(uri),
        ConnectFailure::Timeout,
        Box::new(error),
    )
}

fn connect_error(
    uri: String,
    cause: ConnectFailure,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> StorageError {
    StorageError::Connect {
        backend: BACKEND,
        uri,
        cause,
        source,
    }
}

/// What `error` says about why the storage could not be opened; `tls` says whether the client
/// uses TLS (an I/O error then may be the handshake's).
pub(super) fn classify(error: &Error, tls: bool) -> ConnectFailure {
    match &*error.kind {
        ErrorKind::Io(io) => io_failure(io, tls),
        ErrorKind::DnsResolve { .. } => ConnectFailure::Refused,
        ErrorKind::Authentication { .. } => ConnectFailure::Authentication,
        ErrorKind::Command(command) => match command.code {
            AUTHENTICATION_FAILED | UNAUTHORIZED => ConnectFailure::Authentication,
            INVALID_NAMESPACE => ConnectFailure::Database,
            _ => ConnectFailure::Other,
        },
        ErrorKind::InvalidTlsConfig { .. } => ConnectFailure::Tls,
        ErrorKind::InvalidArgument { message, .. } if message.contains("database name") => {
            ConnectFailure::Database
        }
        ErrorKind::ServerSelection { message, .. } if message.starts_with(SELECTION_TIMEOUT) => {
            ConnectFailure::Timeout
        }
        _ => ConnectFailure::Other,
    }
}

/// The cause an I/O error of connecting (or of the TLS handshake, when `tls`) gives.
fn io_failure(error: &io::Error, tls: bool) -> ConnectFailure {
    match error.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::NotFound
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => ConnectFailure::Refused,
        io::ErrorKind::TimedOut => ConnectFailure::Timeout,
        _ if unresolved(error) => ConnectFailure::Refused,
        // tokio-rustls reports every rustls error as `InvalidData`; a peer that closes during the
        // handshake (a server without TLS) gives `UnexpectedEof`, and so does one that closes
        // right after it (a TLS 1.3 server refusing the client's certificate), so an early close
        // under TLS is read as a TLS failure.
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof if tls => ConnectFailure::Tls,
        _ => ConnectFailure::Other,
    }
}

/// Whether `error` is the standard library's failed host lookup (`getaddrinfo`): its kind is
/// `Uncategorized`, which stable Rust cannot match, so it is told by the standard library's
/// wording.
fn unresolved(error: &io::Error) -> bool {
    error
        .to_string()
        .starts_with("failed to lookup address information")
}

/// The heartbeat failures of each server while a storage opens, from the driver's SDAM events.
/// Bounded: one (the latest) per server.
#[derive(Default)]
struct HeartbeatWatch {
    /// Set once the start-up ended: events are then ignored.
    stopped: AtomicBool,
    /// The latest failure of each server whose latest heartbeat failed.
    failures: Mutex<HashMap<ServerAddress, Error>>,
    /// Woken at each recorded heartbeat.
    changed: tokio::sync::Notify,
}

impl HeartbeatWatch {
    fn record(&self, event: SdamEvent) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        match event {
            SdamEvent::ServerHeartbeatFailed(failed) => {
                self.failures
                    .lock()
                    .insert(failed.server_address, failed.failure);
            }
            SdamEvent::ServerHeartbeatSucceeded(succeeded) => {
                self.failures.lock().remove(&succeeded.server_address);
            }
            _ => return,
        }
        // One waiter at most; a permit is kept when it is not waiting yet.
        self.changed.notify_one();
    }

    /// Resolves, with the first seed's failure, once the latest heartbeat of every seed host
    /// failed; never when there are no seeds.
    async fn every_seed_failed(&self, seeds: &[ServerAddress]) -> Error {
        loop {
            if let Some(failure) = self.failure_of_every(seeds) {
                return failure;
            }
            self.changed.notified().await;
        }
    }

    fn failure_of_every(&self, seeds: &[ServerAddress]) -> Option<Error> {
        let failures = self.failures.lock();
        let every = !seeds.is_empty() && seeds.iter().all(|seed| failures.contains_key(seed));
        every.then(|| failures.get(&seeds[0]).cloned()).flatten()
    }

    /// A recorded failure, if any server's latest heartbeat failed.
    fn any_failure(&self) -> Option<Error> {
        self.failures.lock().values().next().cloned()
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.failures.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::classify;
    use crate::storage::error::ConnectFailure;
    use ::mongodb::bson::{doc, from_document};
    use ::mongodb::error::{CommandError, Error, ErrorKind};
    use std::io;

    /// A command error as the driver builds it from the server's reply (`ok: 0`).
    fn command_error(code: i32, code_name: &str) -> Error {
        let reply = doc! { "code": code, "codeName": code_name, "errmsg": "from the server" };
        let command: CommandError = from_document(reply).expect("a command error document");
        Error::from(ErrorKind::Command(command))
    }

    fn io_error(kind: io::ErrorKind) -> Error {
        Error::from(ErrorKind::from(io::Error::from(kind)))
    }

    #[test]
    fn authentication_codes_are_authentication_failures() {
        let failed = command_error(18, "AuthenticationFailed");
        assert_eq!(classify(&failed, false), ConnectFailure::Authentication);
        let unauthorized = command_error(13, "Unauthorized");
        assert_eq!(
            classify(&unauthorized, false),
            ConnectFailure::Authentication
        );
    }

    #[test]
    fn an_invalid_namespace_is_a_bad_database() {
        let invalid = command_error(73, "InvalidNamespace");
        assert_eq!(classify(&invalid, false), ConnectFailure::Database);
    }

    #[test]
    fn other_command_errors_are_other() {
        let other = command_error(11000, "DuplicateKey");
        assert_eq!(classify(&other, false), ConnectFailure::Other);
    }

    #[test]
    fn io_errors_read_by_kind() {
        use io::ErrorKind::*;
        for (kind, tls, cause) in [
            (ConnectionRefused, false, ConnectFailure::Refused),
            (NotFound, false, ConnectFailure::Refused),
            (TimedOut, false, ConnectFailure::Timeout),
            (TimedOut, true, ConnectFailure::Timeout),
            (InvalidData, true, ConnectFailure::Tls),
            (UnexpectedEof, true, ConnectFailure::Tls),
            (InvalidData, false, ConnectFailure::Other),
            (UnexpectedEof, false, ConnectFailure::Other),
            (ConnectionReset, false, ConnectFailure::Other),
        ] {
            assert_eq!(classify(&io_error(kind), tls), cause, "{kind:?}, tls {tls}");
        }
    }

    /// A host that does not resolve, as the standard library reports it (the driver resolves
    /// hosts with it).
    #[test]
    fn a_host_that_does_not_resolve_is_refused() {
        use std::net::ToSocketAddrs;
        let lookup = "no-such-host.invalid:27017"
            .to_socket_addrs()
            .expect_err("the .invalid domain never resolves");
        let error = Error::from(ErrorKind::from(lookup));
        assert_eq!(classify(&error, false), ConnectFailure::Refused, "{error}");
    }
}
