//! The engine of the `limiter` crates: rate-limit notation, strategies and storages, with the
//! semantics of Python's [`limits`](https://limits.readthedocs.io) (the library behind
//! Flask-Limiter) and no web framework inside.
//!
//! * [`notation`]: `"2 per minute"`, `"10/hour; 100/day"` → [`RateLimit`].
//! * [`strategy`]: fixed window, moving window, sliding window counter ([`Strategy`]), and how
//!   to add one.
//! * [`storage`]: where counters live ([`MemoryStorage`], and network backends behind Cargo
//!   features, all off by default: `RedisStorage` for Redis, Redis Cluster and Redis Sentinel
//!   with `redis` (and `tls` for `rediss://`), memcached with `memcached`, `MongoDbStorage` for
//!   MongoDB with `mongodb`; e.g. `limiter-core = { features = ["redis", "tls"] }`),
//!   each deciding a hit atomically in one step; its docs say how to add a backend.
//! * [`RateLimiter`]: a strategy applied to a storage — `hit`, `test`, `window_stats`, `clear`.
//! * [`model`]: an app's routes, limits and configuration as limiter-axum reports them and the
//!   `limiter` CLI reads them (in JSON: `manifest`, with the feature `manifest`).
//!
//! ```
//! use limiter_core::{parse_many, MemoryStorage, RateLimiter, Strategy};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let limiter = RateLimiter::new(Strategy::FixedWindow, MemoryStorage::new())?;
//! let limits = parse_many("2 per minute; 1 per second")?;
//! // Checked in order, the smallest window first as Flask-Limiter does.
//! assert!(limiter.hit(&limits[1], &["127.0.0.1", "fast"], 1).await?);
//! assert!(limiter.hit(&limits[0], &["127.0.0.1", "fast"], 1).await?);
//! assert!(!limiter.hit(&limits[1], &["127.0.0.1", "fast"], 1).await?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod clock;
mod limiter;
#[cfg(feature = "manifest")]
pub mod manifest;
pub mod model;
pub mod notation;
pub mod storage;
pub mod strategy;
pub mod uri;

pub use clock::Timestamp;
pub use limiter::RateLimiter;
pub use notation::{parse_many, Granularity, ParseError, RateLimit};
pub use storage::ConnectFailure;
pub use storage::{
    AdmittedReset, Decision, Decisions, Hit, MemoryStorage, MemoryStorageBuilder, Storage,
    StorageError, WindowStats,
};
#[cfg(feature = "mongodb")]
pub use storage::{MongoDbStorage, MongoDbStorageBuilder};
#[cfg(feature = "redis")]
pub use storage::{RedisStorage, RedisStorageBuilder};
pub use strategy::{Strategy, UnknownStrategy};
pub use uri::{StorageUri, UriError};
