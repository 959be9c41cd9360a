//! [`ExemptionScope`]: which limits an exempt route or router skips — part of limiter-core's
//! route model, used here by `#[exempt(flags = …)]`, `MethodRouter::exempt_with` and
//! `Router::exempt_with`.

pub use limiter_core::model::ExemptionScope;
