//! A gRPC service, served by tonic, with per-RPC limits through the limiter's tower `Layer`.
//!
//! The service is `helloworld.Greeter` with two RPCs, `SayHello` and `SayGoodbye`. Its messages
//! and server are written by hand (what `tonic-build` generates from a `.proto`, without
//! needing `protoc` at build time); a generated service is layered the same way.
//!
//! ```proto
//! service Greeter {
//!   rpc SayHello (HelloRequest) returns (HelloReply);
//!   rpc SayGoodbye (HelloRequest) returns (HelloReply);
//! }
//! message HelloRequest { string name = 1; }
//! message HelloReply { string message = 1; }
//! ```
//!
//! Each RPC is a route of the layer, known by its path (`/helloworld.Greeter/SayHello`): limits
//! are declared per RPC, the limiter's defaults cover the others, and a rejected call gets the
//! gRPC status `RESOURCE_EXHAUSTED`.

use limiter_axum::{BuildError, Limiter, LimiterLayer};
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::{NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

pub use tonic;

/// The service's name, as in the `.proto`'s package and service.
pub const SERVICE: &str = "helloworld.Greeter";
/// The path of the `SayHello` RPC: its route in the layer.
pub const SAY_HELLO: &str = "/helloworld.Greeter/SayHello";
/// The path of the `SayGoodbye` RPC.
pub const SAY_GOODBYE: &str = "/helloworld.Greeter/SayGoodbye";

/// `HelloRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `HelloReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub message: String,
}

/// The key function of a gRPC service: the client's IP address, from the connection tonic
/// records (tonic does not give axum's `ConnectInfo`, which `get_remote_address` reads).
pub fn grpc_peer(request: &limiter_axum::Request) -> Cow<'_, str> {
    match request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
    {
        Some(addr) => Cow::Owned(addr.ip().to_string()),
        None => Cow::Borrowed("127.0.0.1"),
    }
}

/// The layer of this service: `SayHello` limited to 2 calls per minute per client, every other
/// RPC by the limiter's defaults.
pub fn limits(limiter: &Limiter) -> Result<LimiterLayer, BuildError> {
    limiter.layer().limit(SAY_HELLO, "2 per minute").build()
}

/// One RPC of the greeter: a greeting with `word`.
#[derive(Clone, Copy)]
struct Greet {
    word: &'static str,
}

impl UnaryService<HelloRequest> for Greet {
    type Response = HelloReply;
    type Future = std::future::Ready<Result<Response<HelloReply>, Status>>;

    fn call(&mut self, request: Request<HelloRequest>) -> Self::Future {
        let message = format!("{} {}!", self.word, request.into_inner().name);
        std::future::ready(Ok(Response::new(HelloReply { message })))
    }
}

/// The `helloworld.Greeter` server: routes each call to its RPC by path.
#[derive(Clone, Copy, Debug, Default)]
pub struct GreeterServer;

impl NamedService for GreeterServer {
    const NAME: &'static str = SERVICE;
}

impl tower::Service<http::Request<Body>> for GreeterServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let rpc = match request.uri().path() {
            SAY_HELLO => Greet { word: "Hello" },
            SAY_GOODBYE => Greet { word: "Goodbye" },
            _ => return Box::pin(async { Ok(Status::unimplemented("no such RPC").into_http()) }),
        };
        Box::pin(async move {
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
            Ok(grpc.unary(rpc, request).await)
        })
    }
}

/// Serves the greeter, checked by `layer`, on `listener` (HTTP/2).
pub async fn serve(
    listener: tokio::net::TcpListener,
    layer: LimiterLayer,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .layer(layer)
        .add_service(GreeterServer)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}

/// A client of the greeter: calls `rpc` (a path) with `name`.
pub async fn call(
    channel: tonic::transport::Channel,
    rpc: &'static str,
    name: &str,
) -> Result<Response<HelloReply>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let request = Request::new(HelloRequest {
        name: name.to_owned(),
    });
    let path = http::uri::PathAndQuery::from_static(rpc);
    grpc.unary(
        request,
        path,
        ProstCodec::<HelloRequest, HelloReply>::default(),
    )
    .await
}
