//! Helpers for the end-to-end tests: serve an app on `127.0.0.1:0` with `axum::serve` and talk
//! to it over real HTTP with hyper-util's client.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;

/// A served app and a client for it.
pub struct Server {
    /// The address the app listens on.
    pub addr: SocketAddr,
    client: Client<HttpConnector, Body>,
}

/// What the server answered.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Serves `app` (with `ConnectInfo<SocketAddr>`) on an ephemeral port.
pub async fn serve(app: axum::Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server::at(addr)
}

impl Server {
    /// A client for a server already listening at `addr`.
    pub fn at(addr: SocketAddr) -> Server {
        Server {
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[]).await
    }

    /// A request with extra headers.
    pub async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = self
            .client
            .request(builder.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// The status codes of `n` GETs in a row.
    pub async fn statuses(&self, path: &str, n: usize) -> Vec<u16> {
        let mut statuses = Vec::with_capacity(n);
        for _ in 0..n {
            statuses.push(self.get(path).await.status);
        }
        statuses
    }
}

/// Flask's (Werkzeug 3) 429 body for a description.
pub fn flask_429(description: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n\
         <h1>Too Many Requests</h1>\n<p>{description}</p>\n"
    )
}

/// The packages whose binaries the tests run. They are always built together (as `scripts/test`
/// does beforehand), so that every build resolves the same features and none rebuilds the others.
pub const BINARY_PACKAGES: [&str; 2] = ["quickstart", "limiter-cli"];

/// Builds the workspace's binaries with the same cargo and target directory as the running test
/// (a no-op when `scripts/test` built them already) and returns the path of `binary`.
pub fn cargo_binary(binary: &str) -> std::path::PathBuf {
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--bins"]);
    for package in BINARY_PACKAGES {
        build.args(["-p", package]);
    }
    let status = build
        .status()
        .unwrap_or_else(|error| panic!("cargo build: {error}"));
    assert!(
        status.success(),
        "cargo build of {BINARY_PACKAGES:?} failed"
    );
    let test_binary = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/<binary>
    let profile_dir = test_binary.parent().unwrap().parent().unwrap();
    profile_dir.join(format!("{binary}{}", std::env::consts::EXE_SUFFIX))
}
