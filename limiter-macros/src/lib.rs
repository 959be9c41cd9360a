//! Attribute macros for [`limiter-axum`](https://docs.rs/limiter-axum): `#[limit]`,
//! `#[shared_limit]` and `#[exempt]`.
//!
//! The macros leave the annotated `async fn` exactly as written and register its metadata with
//! [`inventory`](https://docs.rs/inventory), keyed by the [`TypeId`](std::any::TypeId) of the
//! function item. `limiter_axum::routing::get(handler)` looks that metadata up when the route is
//! built, so the limits are known before the handler runs and nothing of a rejected handler runs.
//!
//! Limit strings are parsed **at compile time** with [`limiter_core::parse_many`]; a bad string
//! is a compile error pointing at the string:
//!
//! ```compile_fail
//! #[limiter_macros::limit("1 per dya")]
//! async fn slow() -> &'static str { "24" }
//! ```
//!
//! Use the macros through `limiter_axum` (`use limiter_axum::{limit, exempt};`): the generated code
//! refers to `::limiter_axum`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod expand;
mod parse;

use proc_macro::TokenStream;

/// Rate-limits a handler: `#[limit("1 per day")]`, stackable, with Flask-Limiter's options.
///
/// ```text
/// #[limit("10 per minute; 100/day",
///         key_func = my_key,            // fn(&Request) -> Cow<str>
///         per_method,                   // a separate counter per HTTP method
///         methods = [GET, POST],        // only these methods are limited
///         error_message = "slow down",  // the 429 description
///         exempt_when = is_admin,       // fn(&Request) -> bool
///         override_defaults = false,    // combine with the default limits
///         deduct_when = is_error,       // fn(&Response) -> bool: count only some responses
///         on_breach = custom_429,       // fn(&RequestLimit) -> Option<Response>
///         cost = 2,                     // or cost = fn(&Request) -> u64
///         scope = "group",              // bucket "endpoint:group"
///         shared)]                      // with scope: bucket "group", shared by every route
/// ```
#[proc_macro_attribute]
pub fn limit(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::limit::<parse::LimitArgs>(args.into(), item.into()).into()
}

/// A limit shared by every route declaring the same `scope`:
/// `#[shared_limit("5 per minute", scope = "group")]` (same options as [`macro@limit`]).
#[proc_macro_attribute]
pub fn shared_limit(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::limit::<parse::SharedLimitArgs>(args.into(), item.into()).into()
}

/// Exempts a handler from the default, application and meta limits (and its own limits), as
/// Flask-Limiter's `@limiter.exempt`. `#[exempt(flags = DEFAULT | APPLICATION)]` chooses the
/// [`ExemptionScope`](https://docs.rs/limiter-axum) flags.
#[proc_macro_attribute]
pub fn exempt(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::exempt(args.into(), item.into()).into()
}
