//! The per-request check: each handler is wrapped in a [`LimitedHandler`], so the check runs
//! after routing (the handler's limits are known) and before the handler (nothing of a rejected
//! handler runs, not even its extractors).
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use limiter_axum::routing::get;
//! use limiter_axum::{global_key, Limiter, Router};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let limiter = Limiter::new(global_key)
//!     .default_limits(["1 per day"])
//!     .headers_enabled(true)
//!     .build()
//!     .await?;
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .with_limiter(&limiter)?;
//! let request = || Request::get("/").body(Body::empty()).unwrap();
//!
//! // Counted, then served, with the headers of the limit.
//! let served = app.clone().oneshot(request()).await?;
//! assert_eq!(served.status(), StatusCode::OK);
//! assert_eq!(served.headers()["x-ratelimit-remaining"], "0");
//!
//! // Over the limit: a 429, and the handler never runs.
//! let rejected = app.oneshot(request()).await?;
//! assert_eq!(rejected.status(), StatusCode::TOO_MANY_REQUESTS);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # The request's way through these files
//!
//! ```text
//! handler.rs   LimitedHandler::call ──(storage answers at once)──▶ decide_now ─┐
//!                   │ (storage must wait, deduct_when)                         │
//!                   ▼                                                           │
//!              check_later: failover, decide, failure mode ─────────────────────┤
//! prepare.rs     key, meta limits, items (items.rs: which limits apply), ids    │
//! decide.rs      meta limits → one batch of hits → judge ──▶ pass / breach ◀────┘
//! response.rs    the 429 (or on_breach's response), the failure-mode status
//! headers.rs     X-RateLimit-* and Retry-After on either
//! response_cost.rs  ResponseCost: the cost a handler sets, charged after its response
//! shadow.rs      a shadow (dry-run) limit's breach: logged, the request passes
//! ietf_headers.rs  the IETF RateLimit and RateLimit-Policy fields, when enabled
//! metrics.rs     counters, storage durations and debug spans (the `metrics` feature)
//! future.rs      LimitFuture: the handler's future, a ready response, or the boxed check
//! ```
//!
//! A route's limits are resolved once ([`resolve`](crate::resolve)) into a [`ResolvedRoute`] of
//! [`Entry`]s (`route.rs`, `entry.rs`); while the storage is down the in-memory fallback is used
//! (`failover.rs`).

mod decide;
mod entry;
pub(crate) mod failover;
mod future;
mod handler;
mod headers;
mod ietf_headers;
mod items;
mod metrics;
mod prepare;
mod response;
mod response_cost;
mod route;
mod shadow;

pub(crate) use entry::{Entry, EntryKind};
pub(crate) use handler::LimitedHandler;
pub(crate) use handler::{check_later, check_now, Immediate};
pub(crate) use headers::{write_headers, HeaderInfo};
pub(crate) use ietf_headers::PartitionKeySecret;
pub use response_cost::ResponseCost;
pub(crate) use route::{HandlerCell, ResolvedRoute};
