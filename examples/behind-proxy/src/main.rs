//! Behind a reverse proxy: the peer address is the proxy's, so clients are keyed by the one
//! header the proxy sets (`X-Forwarded-For` here) — but only when the request comes from a
//! trusted proxy (here 127.0.0.1, also as `::ffff:127.0.0.1` on a dual-stack server), read right
//! to left, so a client cannot pick its own key. A malformed entry stops the walk; IPv6 clients
//! are keyed by their /56. See `docs/security.md` for nginx, Cloudflare, AWS ALB and Kubernetes.
//!
//! ```sh
//! cargo run -p behind-proxy                   # serves on 127.0.0.1:5000 (or $PORT)
//! curl -H 'x-forwarded-for: 203.0.113.7' localhost:5000/whoami   # 203.0.113.7, 200 twice
//! curl -H 'x-forwarded-for: 198.51.100.9' localhost:5000/whoami  # another client: its own count
//! curl -H 'x-forwarded-for: 1.2.3.4, 203.0.113.7' localhost:5000/whoami  # counted as 203.0.113.7
//! curl -H 'x-forwarded-for: 1.2.3.4, 203.0.113.7:4711' localhost:5000/whoami  # the same
//! curl -H 'forwarded: for=9.9.9.9' localhost:5000/whoami         # not read: 127.0.0.1
//! ```
//!
//! Change the trusted network to `10.0.0.0/8` and every curl is keyed by 127.0.0.1: the
//! headers of an untrusted peer are ignored.

use limiter_axum::routing::get;
use limiter_axum::{ForwardedKey, Limiter, ProxyHeader, Request, Router};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

fn key() -> ForwardedKey {
    ForwardedKey::new()
        .trust_proxy("127.0.0.1/32".parse().expect("a network"))
        // The one header the proxy sets; the others are never read.
        .header(ProxyHeader::XForwardedFor)
        // IPv6 clients counted per /56 (the default, written out).
        .ipv6_prefix(56)
}

async fn whoami(request: Request) -> String {
    match key().client_ip(&request) {
        Some(ip) => format!("{ip}\n"),
        None => "unknown\n".to_owned(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs on stderr, `RUST_LOG` to filter (default `info`): storage failures, the circuit
    // breaker's transitions, shadow breaches; `RUST_LOG=limiter_axum=debug` shows each decision.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let limiter = Limiter::new(key())
        .default_limits(["2 per minute"])
        .build()
        .await?;
    let app = Router::new()
        .route("/whoami", get(whoami))
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
