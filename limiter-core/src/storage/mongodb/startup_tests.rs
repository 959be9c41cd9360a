//! The start-up causes that need a server's answer (authentication, bad database), through the
//! real driver over a real socket, against a [scripted peer](super::scripted_peer) that answers
//! as MongoDB does (no MongoDB server can run on the project's machines, so these are not
//! tested against one).

use super::scripted_peer::{self, error_reply, ok};
use super::MongoDbStorage;
use crate::storage::error::{ConnectFailure, StorageError};
use std::time::{Duration, Instant};

/// Well above what these take, so a timeout is never the cause.
const TIMEOUT: Duration = Duration::from_secs(2);

async fn open_error(url: &str, database: &str) -> (StorageError, ConnectFailure) {
    let started = Instant::now();
    let error = MongoDbStorage::builder(url)
        .database_name(database)
        .timeout(TIMEOUT)
        .build()
        .await
        .expect_err("opening must fail");
    let elapsed = started.elapsed();
    println!("{url}: {error} after {elapsed:?}\n  {error:?}");
    assert!(elapsed < TIMEOUT / 2, "{elapsed:?}");
    let cause = error
        .connect_failure()
        .unwrap_or_else(|| panic!("a Connect error: {error:?}"));
    (error, cause)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_is_enough_for_the_driver_to_open_the_storage() {
    let port = scripted_peer::start(|_, _| ok());
    MongoDbStorage::builder(format!("mongodb://127.0.0.1:{port}/"))
        .timeout(TIMEOUT)
        .build()
        .await
        .expect("every command answered ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_an_authentication_failure() {
    let port = scripted_peer::start(|command, _| match command {
        "saslStart" | "saslContinue" => {
            error_reply(18, "AuthenticationFailed", "Authentication failed.")
        }
        _ => ok(),
    });
    let url = format!("mongodb://user:s3cret@127.0.0.1:{port}/?authSource=admin");
    let (error, cause) = open_error(&url, "limits").await;
    assert_eq!(cause, ConnectFailure::Authentication);
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
}

/// `ping` needs no credentials; `createIndexes` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_are_an_authentication_failure() {
    let port = scripted_peer::start(|command, _| match command {
        "createIndexes" => error_reply(
            13,
            "Unauthorized",
            "command createIndexes requires authentication",
        ),
        _ => ok(),
    });
    let (_, cause) = open_error(&format!("mongodb://127.0.0.1:{port}/"), "limits").await;
    assert_eq!(cause, ConnectFailure::Authentication);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_name_the_server_refuses_is_a_bad_database() {
    let port = scripted_peer::start(|command, body| match (command, body.get_str("$db")) {
        ("ping" | "createIndexes", Ok("bad.name")) => {
            error_reply(73, "InvalidNamespace", "Invalid database name: 'bad.name'")
        }
        _ => ok(),
    });
    let (error, cause) = open_error(&format!("mongodb://127.0.0.1:{port}/"), "bad.name").await;
    assert_eq!(cause, ConnectFailure::Database, "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_other_refusal_is_other() {
    let port = scripted_peer::start(|command, _| match command {
        "ping" => error_reply(8000, "AtlasError", "something else"),
        _ => ok(),
    });
    let (_, cause) = open_error(&format!("mongodb://127.0.0.1:{port}/"), "limits").await;
    assert_eq!(cause, ConnectFailure::Other);
}
