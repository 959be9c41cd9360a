//! The **model** of an app's rate limiting: its routes with their resolved limits, and the
//! limiter's configuration — one set of types for every reader.
//!
//! limiter-axum fills them (`Limiter::routes()`, `Limiter::config()`, re-exported there under
//! the same names), an app prints them as its manifest (module `manifest`, with the `manifest`
//! feature, which derives their serde form), and the `limiter` CLI reads them back.
//!
//! * [`RouteInfo`]: one handler at one path, with its [`LimitInfo`]s in resolution order and
//!   its [`ExemptionScope`].
//! * [`LimitInfo`]: one limit line — its canonical string, [`LimitSource`], options, and the
//!   parts of its storage key ([`LimitInfo::identifiers`]).
//! * [`ConfigInfo`]: the limiter's configuration, with its [`HeaderNames`]; [`mod@env`]: the
//!   `RATELIMIT_*` variables it can come from.
//!
//! ```
//! use limiter_core::model::{LimitInfo, LimitSource, RouteInfo};
//!
//! let mut route = RouteInfo::new("fast", None, "/fast", ["GET", "HEAD"]);
//! route.limits.push(LimitInfo::new(&"2 per minute".parse()?, LimitSource::Route, "fast"));
//! // The key the app writes for client 127.0.0.1 with key prefix `pfx`:
//! let limit = &route.limits[0];
//! let ids = limit.identifiers("pfx", "127.0.0.1");
//! let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
//! assert_eq!(limit.rate_limit()?.key_for(&ids), "LIMITER/pfx/127.0.0.1/fast/2/1/minute");
//! # Ok::<(), limiter_core::ParseError>(())
//! ```

mod config;
pub mod env;
mod exemption;
mod limit;
mod route;

pub use config::{ConfigInfo, HeaderNames};
pub use exemption::ExemptionScope;
pub use limit::{LimitInfo, LimitSource};
pub use route::{RouteInfo, APP_GROUP};
