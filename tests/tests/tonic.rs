//! The limiter's tower `Layer` on a tonic gRPC service (`examples/tonic`), over real HTTP/2:
//! per-RPC limits, the defaults for the other RPCs, `RESOURCE_EXHAUSTED` for a rejected call.

use limiter_axum::Limiter;
use tonic_example::tonic::transport::{Channel, Endpoint};
use tonic_example::tonic::Code;
use tonic_example::{call, grpc_peer, SAY_GOODBYE, SAY_HELLO};

/// The greeter with the example's limits, on an ephemeral port, and a client channel (HTTP/2).
async fn greeter(limiter: &Limiter) -> Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = tonic_example::limits(limiter).unwrap();
    tokio::spawn(async move { tonic_example::serve(listener, layer).await.unwrap() });
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn per_rpc_limits_and_defaults_over_http2() {
    let limiter = Limiter::new(grpc_peer)
        .default_limits(["3 per minute"])
        .headers_enabled(true)
        .build()
        .await
        .unwrap();
    let channel = greeter(&limiter).await;

    // SayHello: its own 2 per minute, with the rate-limit headers in the response metadata.
    let first = call(channel.clone(), SAY_HELLO, "Ada").await.unwrap();
    assert_eq!(first.get_ref().message, "Hello Ada!");
    let metadata = first.metadata();
    assert_eq!(metadata.get("x-ratelimit-limit").unwrap(), "2");
    assert_eq!(metadata.get("x-ratelimit-remaining").unwrap(), "1");
    assert!(call(channel.clone(), SAY_HELLO, "Ada").await.is_ok());
    let refused = call(channel.clone(), SAY_HELLO, "Ada").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.metadata().get("retry-after").is_some());

    // SayGoodbye: the defaults, counted apart.
    for _ in 0..3 {
        let reply = call(channel.clone(), SAY_GOODBYE, "Ada").await.unwrap();
        assert_eq!(reply.get_ref().message, "Goodbye Ada!");
    }
    let refused = call(channel, SAY_GOODBYE, "Ada").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn the_registry_lists_each_rpc() {
    let limiter = Limiter::new(grpc_peer)
        .default_limits(["3 per minute"])
        .build()
        .await
        .unwrap();
    let _layer = tonic_example::limits(&limiter).unwrap();
    let routes: Vec<(String, Vec<String>)> = limiter
        .routes()
        .into_iter()
        .map(|route| {
            (
                route.path,
                route.limits.into_iter().map(|l| l.limit).collect(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("*".to_owned(), vec!["3 per 1 minute".to_owned()]),
            (SAY_HELLO.to_owned(), vec!["2 per 1 minute".to_owned()]),
        ]
    );
}
