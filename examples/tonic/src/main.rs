//! The greeter over gRPC on `127.0.0.1:50051` (`PORT` to change it), `SayHello` limited to 2
//! calls per minute per client, the other RPCs to the default 10 per minute.
//!
//! `limiter --app target/debug/tonic-greeter limits` lists the RPCs' limits.

use limiter_axum::Limiter;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs on stderr, `RUST_LOG` to filter (default `info`): storage failures, the circuit
    // breaker's transitions, shadow breaches; `RUST_LOG=limiter_axum=debug` shows each decision.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let limiter = Limiter::new(tonic_example::grpc_peer)
        .default_limits(["10 per minute"])
        .headers_enabled(true)
        .build()
        .await?;
    let layer = tonic_example::limits(&limiter)?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "50051".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("gRPC on {}", listener.local_addr()?);
    tonic_example::serve(listener, layer).await?;
    Ok(())
}
