//! The `RATELIMIT_*` environment variables of Flask-Limiter's configuration that limiter-axum's
//! `LimiterBuilder::from_env` reads: one list for the library and for the table of
//! `limiter config`, so neither names a variable the other does not know.
//!
//! ```
//! use limiter_core::model::env;
//! assert!(env::ALL.contains(&env::STORAGE_URI));
//! assert!(env::ALL.iter().all(|name| name.starts_with("RATELIMIT_")));
//! ```

/// Turns the limiter off (`false`); wins over code.
pub const ENABLED: &str = "RATELIMIT_ENABLED";
/// The default limits (`"10/minute;100/day"`).
pub const DEFAULT: &str = "RATELIMIT_DEFAULT";
/// The application limits.
pub const APPLICATION: &str = "RATELIMIT_APPLICATION";
/// The meta limits.
pub const META: &str = "RATELIMIT_META";
/// The storage URI (`redis://…`).
pub const STORAGE_URI: &str = "RATELIMIT_STORAGE_URI";
/// The strategy (`fixed-window`, `moving-window`, `sliding-window-counter`, `gcra`).
pub const STRATEGY: &str = "RATELIMIT_STRATEGY";
/// GCRA's burst for every limit (a whole number ≥ 1; unset: each limit's amount). Not a
/// Flask-Limiter setting (it has no GCRA).
pub const GCRA_BURST: &str = "RATELIMIT_GCRA_BURST";
/// Sends the rate-limit headers.
pub const HEADERS_ENABLED: &str = "RATELIMIT_HEADERS_ENABLED";
/// The key prefix.
pub const KEY_PREFIX: &str = "RATELIMIT_KEY_PREFIX";
/// Lets requests through unlimited when the storage fails (fail open).
pub const SWALLOW_ERRORS: &str = "RATELIMIT_SWALLOW_ERRORS";
/// Stops at the first breached limit of a request.
pub const FAIL_ON_FIRST_BREACH: &str = "RATELIMIT_FAIL_ON_FIRST_BREACH";
/// Falls back to an in-memory storage while the storage is down.
pub const IN_MEMORY_FALLBACK_ENABLED: &str = "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED";
/// The `Retry-After` format (`delta-seconds` or `http-date`).
pub const HEADER_RETRY_AFTER_VALUE: &str = "RATELIMIT_HEADER_RETRY_AFTER_VALUE";
/// The longest client key stored as it is (limiter-axum's own; longer keys are digested).
pub const MAX_KEY_LENGTH: &str = "RATELIMIT_MAX_KEY_LENGTH";

/// Shadow mode (dry run) for every limit: counted and logged, nothing refused. Not
/// Flask-Limiter's.
pub const SHADOW_MODE: &str = "RATELIMIT_SHADOW_MODE";
/// Which rate-limit header fields are sent (`x-ratelimit`, `ietf` or `both`); not Flask-Limiter's.
pub const HEADER_STYLE: &str = "RATELIMIT_HEADER_STYLE";

/// Every variable `from_env` reads, in the order it reads them.
pub const ALL: [&str; 16] = [
    ENABLED,
    DEFAULT,
    APPLICATION,
    META,
    STORAGE_URI,
    STRATEGY,
    GCRA_BURST,
    HEADERS_ENABLED,
    KEY_PREFIX,
    SWALLOW_ERRORS,
    FAIL_ON_FIRST_BREACH,
    IN_MEMORY_FALLBACK_ENABLED,
    MAX_KEY_LENGTH,
    SHADOW_MODE,
    HEADER_RETRY_AFTER_VALUE,
    HEADER_STYLE,
];
