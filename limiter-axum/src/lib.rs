//! Rate limiting for [axum](https://docs.rs/axum), done the way
//! [Flask-Limiter](https://flask-limiter.readthedocs.io/en/stable/) does it for Flask: limits
//! written as `"2 per minute"` for the whole application, by default, per route and per router,
//! shared, meta and dynamic limits, exemptions, three strategies, storages chosen by URI
//! (memory, Redis, Memcached, MongoDB), the 429 and the `X-RateLimit-*` headers, and what to do
//! when the storage fails. The limits are declared with attributes or in code and checked in
//! front of each handler.
//!
//! * [Quickstart](#quickstart)
//! * [Limits](#limits): writing them, where each applies, which a route gets, how a request is
//!   checked
//! * [Keys](#keys): who counts as one client, and the storage keys
//! * [Strategies](#strategies) and [Storages](#storages)
//! * [Exemptions](#exemptions)
//! * [The 429 and the headers](#the-429-and-the-headers)
//! * [When the storage fails](#when-the-storage-fails)
//! * [Metrics and tracing](#metrics-and-tracing) (the `metrics` feature)
//! * [How-to](#how-to): testing, per-user limits, failed logins, costs, proxies, several
//!   instances, configuration from the environment, inspecting the limits
//! * [Shadow mode](#shadow-mode): a limit counted and logged, never refused
//! * [Cost known after the response](#cost-known-after-the-response): charging what the handler
//!   counted (an LLM API's tokens)
//!
//! How the check works inside, and why it is built that way, is told in `ARCHITECTURE.md` at
//! the root of the repository; what it costs, in `BENCHMARKS.md`.
//!
#![doc = include_str!("docs/quickstart.md")]
#![doc = include_str!("docs/limits.md")]
#![doc = include_str!("docs/keys.md")]
#![doc = include_str!("docs/strategies.md")]
#![doc = include_str!("docs/storages.md")]
#![doc = include_str!("docs/exemptions.md")]
#![doc = include_str!("docs/options.md")]
#![doc = include_str!("docs/responses.md")]
#![doc = include_str!("docs/failures.md")]
#![doc = include_str!("docs/metrics.md")]
#![doc = include_str!("docs/how-to.md")]
#![doc = include_str!("docs/shadow-mode.md")]
#![doc = include_str!("docs/response-cost.md")]
#![doc = include_str!("docs/differences.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod builder;
mod capacity;
mod check;
mod core;
mod current;
mod decl;
mod error;
mod exemption;
#[cfg(feature = "fault-injection")]
mod fault;
mod head;
mod inspect;
mod key;
mod layer;
mod lazy_start;
mod limiter;
mod options;
mod registration;
mod registry;
mod resolve;
pub mod routing;

pub use builder::LimiterBuilder;
pub use check::failover::DEFAULT_FAILURES_TO_OPEN;
pub use check::ResponseCost;
pub use current::{CurrentLimits, CurrentLimitsMissing};
pub use decl::{Cost, CostFn, DeductWhenFn, ExemptWhenFn, KeyFn, Limit, OnBreachFn};
pub use error::BuildError;
pub use exemption::ExemptionScope;
#[cfg(feature = "fault-injection")]
pub use fault::FaultSwitch;
pub use head::RequestHead;
pub use key::{
    get_remote_address, global_key, key_fn, ForwardedKey, IpNet, Key, KeyFunc, ProxyHeader,
};
pub use layer::{LayerBuilder, LimiterLayer, LimiterService, ResponseFuture};
pub use limiter::Limiter;
pub use limiter_core::{RateLimit, Strategy};
pub use limiter_macros::{exempt, limit, shared_limit};
pub use options::{FailureMode, HeaderNames, HeaderStyle, RetryAfter, UnknownHeaderStyle};
pub use registration::UnroutedHandlers;
pub use registry::{ConfigInfo, LimitInfo, LimitSource, RouteInfo};
pub use routing::Router;

/// The request type handlers, key functions and predicates see.
pub type Request = axum::extract::Request;
/// The response type of `deduct_when` predicates and `on_breach` callbacks.
pub type Response = axum::response::Response;

/// A limit as seen by `on_breach` callbacks (Flask-Limiter's `RequestLimit`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestLimit {
    /// The limit.
    pub limit: RateLimit,
    /// The full storage key (`LIMITER/127.0.0.1/fast/2/1/minute`).
    pub key: String,
    /// Whether this limit was breached.
    pub breached: bool,
    /// Whether the limit is shared.
    pub shared: bool,
    /// What is left of it.
    pub remaining: u64,
    /// When it resets, in epoch seconds (`int(reset + 1)`, as `X-RateLimit-Reset`).
    pub reset_at: u64,
}

/// Used by the attribute macros; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::decl::{CostFn, DeductWhenFn, ExemptWhenFn, KeyFn, OnBreachFn, StaticLimit};
    pub use crate::registration::{type_id_of, Declared, Registration};
    pub use inventory;
    pub use limiter_core::{Granularity, RateLimit};
}
