//! Flask-Limiter for axum: default, application, per-route, per-router (blueprint), shared,
//! meta and dynamic rate limits, declared with attributes or in code, checked in front of each
//! handler.
//!
//! # Quickstart
//!
//! ```no_run
//! use limiter_axum::routing::get;
//! use limiter_axum::{exempt, get_remote_address, limit, Limiter, Router, Strategy};
//! use std::net::SocketAddr;
//!
//! #[limit("1 per day")]
//! async fn slow() -> &'static str { "24" }
//! async fn fast() -> &'static str { "42" }
//! #[exempt]
//! async fn ping() -> &'static str { "PONG" }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let limiter = Limiter::new(get_remote_address)
//!     .default_limits(["2 per minute", "1 per second"])
//!     .storage_uri("memory://")
//!     .strategy(Strategy::FixedWindow)
//!     .build()
//!     .await?;
//! let app = Router::new()
//!     .route("/slow", get(slow))
//!     .route("/fast", get(fast))
//!     .route("/ping", get(ping))
//!     .with_limiter(&limiter)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! A bad limit string in an attribute does not compile; the error points at the string:
//!
//! ```compile_fail
//! #[limiter_axum::limit("1 per dya")]
//! async fn slow() -> &'static str { "24" }
//! ```
//!
//! # Design: route metadata
//!
//! The limiter must know each route's endpoint, path, methods and limits **before** its
//! handler runs, and feed the same facts to the CLI.
//!
//! * **Attributes register, they do not wrap.** `#[limit]`, `#[shared_limit]` and `#[exempt]`
//!   leave the `async fn` exactly as written (it stays an ordinary axum handler, usable in plain
//!   axum and in tests) and submit a `const` description to [`inventory`], keyed by the
//!   [`TypeId`](std::any::TypeId) of the function item (through a `fn() -> TypeId`, since
//!   `TypeId::of` is not `const`). The limit string is parsed **inside the proc macro** with
//!   `limiter_core::parse_many`, so a typo is a compile error on the string, and the parsed
//!   values are embedded: nothing is parsed at run time.
//! * **Routing looks the metadata up.** [`routing::get`] & co. mirror axum's and take the
//!   handler's type, so they find its declarations in the inventory index (built once) and
//!   return a [`routing::MethodRouter`] holding, per handler, its limits, exemption and name.
//!   Code can declare the same on the route (`get(h).limit("10/minute")`, `.exempt()`,
//!   `.shared_limit(…)`), for closures, handlers of other crates or limits read from
//!   configuration: both produce the same [`Limit`] value (one implementation).
//! * **[`Router`] mirrors `axum::Router`** (`route`, `nest`, `merge`, `layer`, `route_layer`,
//!   `with_state`, `fallback`) and records every path/method/endpoint. [`Router::route`] hands
//!   axum each handler wrapped with its check (an `axum::handler::Handler` around the user's):
//!   it runs after routing and before the handler, so a rejected request runs nothing of the
//!   handler (not even its extractors), and the route stays the shape axum builds for a bare
//!   handler — no `route_layer` (a second boxed route clone and boxed future per request) and no
//!   `axum::middleware::from_fn` (slower still, measured).
//!   Named routers are blueprints: `nest("/bp", Router::named("bp").limit(…))`.
//! * **Resolution happens once, at start-up.** [`Router::with_limiter`] walks the recorded
//!   routes, resolves defaults vs. route vs. blueprint limits and exemptions (Flask-Limiter
//!   §4.6), precomputes buckets and 429 bodies, stores them in each handler's cell, and is the
//!   **only** way to turn the router into a servable `axum::Router`: a route the limiter does not
//!   cover cannot be served unless added with the explicit [`Router::route_unlimited`] opt-out,
//!   which the registry reports. Malformed strings declared in code fail here.
//!
//! Rejected alternatives:
//!
//! * *A router-level middleware that looks the route up by path.* Axum runs outer layers before
//!   routing, so such a layer must re-route every request (or guess) to find the handler's
//!   limits — duplicated work and a source of drift from axum's matching (nesting, fallbacks,
//!   `{*wildcards}`).
//! * *Attributes that rewrite the handler into a wrapper.* The function would stop being a plain
//!   handler (signatures, `#[debug_handler]`, direct calls in tests), and the check would run
//!   inside the handler after its extractors (body parsing) already ran.
//! * *Registering by function name* (Flask's way): two modules' `index` would collide, and
//!   renaming silently drops limits. The `TypeId` is exact.
//! * *`axum::middleware::from_fn` per route*: an extra boxed `Next` chain and extractor machinery
//!   per request; the hand-written service is cheaper.
//! * *A `dyn Storage` call per limit*: the check builds every hit of the request and makes **one**
//!   `acquire_all` storage call.
//!
//! # Hot path
//!
//! Limits are parsed once; buckets (`endpoint`, `endpoint:scope`, `scope:METHOD`) and 429
//! bodies are precomputed per route. Per request: the key function (the peer IP is formatted
//! into an inline buffer), a stack-allocated list of hits, one `acquire_all` call; on memory
//! storage the decision is taken in the handler's `call`, nothing boxed, and the allowed path
//! allocates nothing that axum does not already allocate for a route with state (a counting
//! allocator test shows it). The 429 path clones a precomputed `Bytes` body.
//!
//! # Semantics and the choices made where Flask-Limiter's code and docs disagree
//!
//! * Limits of one request are checked together, smallest window first; the 429 names the
//!   smallest-window breached limit, and headers report it.
//! * An `#[exempt]` route (any flags) ignores its own `#[limit]`s (Flask's verified quirk);
//!   with `DEFAULT` it also ignores its routers' limits, which act as its defaults.
//! * Nested routers follow Flask-Limiter's **code** (§4.6): a router's own limits that all
//!   override defaults replace inherited ones; otherwise the union of the ancestry's limits
//!   (outermost first, deterministic), and an inherited limit that overrides defaults removes
//!   the defaults. `DESCENDENTS` passes a router's exemption down; `ANCESTORS` stops
//!   inheritance at that router (also for routers nested below it).
//!
//! # Current limits in handlers (§4.12)
//!
//! With [`LimiterBuilder::current_limits`] on, the check puts the limits it evaluated into the
//! request before the handler runs, and the [`CurrentLimits`] extractor reads them: Flask's
//! `current_limits` ([`CurrentLimits::limits`]) and `current_limit` ([`CurrentLimits::current`]).
//! It is opt-in because the list (its storage keys, an `Arc`, a request extension) costs a few
//! allocations per allowed request; the decisions themselves are already known after the one
//! storage call. Rejected alternative: detecting the extractor in the handler's signature at
//! routing time (`routing::get` sees the extractor tuple's type only, with no stable way to ask
//! whether it contains `CurrentLimits`).
//!
//! # Storage failures (§4.11)
//!
//! When a storage call fails:
//! 1. with the in-memory fallback enabled ([`LimiterBuilder::in_memory_fallback_enabled`] or
//!    [`LimiterBuilder::in_memory_fallback`]) and the storage not yet marked dead, it is marked
//!    dead (WARNING "Rate limit storage unreachable - falling back to in-memory storage") and
//!    the check is retried at once on a fresh memory storage with the same strategy. While
//!    dead, only the `in_memory_fallback` limits apply if any are configured (per endpoint,
//!    cost 1), else every normal limit. A recovery probe (`Storage::check`) runs at most once
//!    per interval, the interval doubling 1, 2, 4, 8, 16, 32 s then back to 1 s; on success
//!    ("Rate limit storage recovered") the primary is used again, without the fallback counts;
//! 2. otherwise [`FailureMode::FailOpen`] (`swallow_errors`) lets the request through unlimited
//!    (ERROR "Failed to rate limit. Swallowing error"), and [`FailureMode::FailClosed`]
//!    answers with its status (500 by default, as Flask; 503 is a common choice) **without**
//!    running the handler. Failed `deduct_when` deductions are logged and swallowed.
//!
//! Every degraded decision is logged with `tracing`. The `fault-injection` feature adds a
//! [`FaultSwitch`](crate::Limiter) to test these paths without a real outage.
//!
//! # The registry (for the `limiter` CLI)
//!
//! [`Limiter::routes`] returns a [`RouteInfo`] per handler and path, sorted by path: endpoint
//! (`bp.child.handler`), blueprint group (`None` = the application), path, methods, the
//! resolved default/route/blueprint limits in resolution order as [`LimitInfo`] (canonical
//! string, [`LimitSource`], bucket, per-method expansion in `method`, options), the effective
//! [`ExemptionScope`], `exempt` (prints `Exempt`) and `opt_out` (added with
//! [`Router::route_unlimited`]). Application limits are listed once in [`Limiter::config`]
//! ([`ConfigInfo`]: strategy, storage URI, default/application/meta limits, headers, key prefix,
//! failure mode…). Configuration can also come from `RATELIMIT_*` environment variables:
//! [`LimiterBuilder::from_env`].
#![warn(missing_docs)]

mod builder;
mod check;
mod core;
mod current;
mod decl;
mod error;
mod exemption;
#[cfg(feature = "fault-injection")]
mod fault;
mod inspect;
mod key;
mod limiter;
mod options;
mod registration;
mod registry;
mod resolve;
pub mod routing;

pub use builder::LimiterBuilder;
pub use current::{CurrentLimits, CurrentLimitsMissing};
pub use decl::{Cost, CostFn, DeductWhenFn, ExemptWhenFn, KeyFn, Limit, OnBreachFn};
pub use error::BuildError;
pub use exemption::ExemptionScope;
#[cfg(feature = "fault-injection")]
pub use fault::FaultSwitch;
pub use key::{get_remote_address, global_key, key_fn, ForwardedKey, IpNet, Key, KeyFunc};
pub use limiter::Limiter;
pub use limiter_core::{RateLimit, Strategy};
pub use limiter_macros::{exempt, limit, shared_limit};
pub use options::{FailureMode, HeaderNames, RetryAfter};
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
