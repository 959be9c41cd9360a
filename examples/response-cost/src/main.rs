//! Cost known after the response: an LLM-style API allows 100 tokens per client and minute. The
//! handler counts the tokens of its answer and puts them on the response (`ResponseCost`); the
//! limiter charges them after the response. Before the handler the limit is only tested: a
//! request is refused once nothing remains. A response may cost more than what remained: the
//! window is then full (it may go over the limit by that one response) and the next request
//! is refused until it resets. `/v1/proxy` does the same with a header the handler sets
//! (`x-tokens-used`, named by the builder), which the limiter removes.
//!
//! ```sh
//! cargo run -p response-cost                  # serves on 127.0.0.1:5000 (or $PORT)
//! curl -i -d 'four words of prompt' localhost:5000/v1/complete
//!                                             # 200, 40 tokens: X-RateLimit-Remaining: 60
//! curl -i -d 'five words in this prompt' localhost:5000/v1/complete
//!                                             # 200, 50 tokens: Remaining: 10
//! curl -i -d 'three more words' localhost:5000/v1/complete
//!                                             # 200 (10 remained), 30 tokens: Remaining: 0
//! curl -i -d 'one' localhost:5000/v1/complete # 429 until the minute is over
//! curl -i -d 'two words' localhost:5000/v1/proxy
//!                                             # 200, Remaining: 80, no x-tokens-used header
//! ```

use axum::http::{HeaderName, HeaderValue};
use axum::response::IntoResponse;
use limiter_axum::routing::post;
use limiter_axum::{get_remote_address, limit, Limit, Limiter, Response, ResponseCost, Router};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

/// The tokens the answer to `prompt` takes: ten per word of the prompt, a stand-in for a model
/// call that reports its usage.
fn tokens_for(prompt: &str) -> u64 {
    10 * prompt.split_whitespace().count() as u64
}

/// 100 tokens per client and minute, charged after each answer.
#[limit("100 per minute", cost_from_response)]
async fn complete(prompt: String) -> (ResponseCost, [(&'static str, &'static str); 1], String) {
    let tokens = tokens_for(&prompt);
    let body = format!("{{\"text\":\"…\",\"usage\":{{\"tokens\":{tokens}}}}}\n");
    (
        ResponseCost(tokens),
        [("content-type", "application/json")],
        body,
    )
}

/// The same, with the usage in a response header, as an upstream API would report it.
async fn proxy(prompt: String) -> Response {
    let tokens = tokens_for(&prompt);
    let mut response = format!("{tokens} tokens\n").into_response();
    response
        .headers_mut()
        .insert("x-tokens-used", HeaderValue::from(tokens));
    response
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
    let limiter = Limiter::new(get_remote_address)
        .headers_enabled(true)
        .response_cost_header(HeaderName::from_static("x-tokens-used"))
        .build()
        .await?;
    let app = Router::new()
        .route("/v1/complete", post(complete))
        .route(
            "/v1/proxy",
            post(proxy).limit_with(Limit::new("100 per minute").cost_from_response()),
        )
        .with_limiter(&limiter)?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
