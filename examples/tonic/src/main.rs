//! The greeter over gRPC on `127.0.0.1:50051` (`PORT` to change it), `SayHello` limited to 2
//! calls per minute per client, the other RPCs to the default 10 per minute.
//!
//! `limiter --app target/debug/tonic-greeter limits` lists the RPCs' limits.

use limiter_axum::Limiter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
