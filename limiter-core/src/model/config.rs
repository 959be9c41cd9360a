//! [`ConfigInfo`]: a limiter's configuration, and [`HeaderNames`]: its response header names.

use super::LimitInfo;

/// The limiter's configuration, as `limiter config` prints it.
///
/// [`Default`] gives Flask-Limiter's defaults (fixed window, `memory://`, no limits). In a
/// manifest, [`key_func`](Self::key_func) is written `key_function` and
/// [`failure_mode`](Self::failure_mode) `on_storage_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "manifest",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
#[non_exhaustive]
pub struct ConfigInfo {
    /// `RATELIMIT_ENABLED`.
    pub enabled: bool,
    /// `RATELIMIT_STRATEGY`: `fixed-window`, `moving-window`, `sliding-window-counter` or `gcra`.
    pub strategy: String,
    /// `RATELIMIT_GCRA_BURST`: GCRA's burst; `None` for each limit's amount (and for the other
    /// strategies, which have none).
    pub gcra_burst: Option<u64>,
    /// `RATELIMIT_STORAGE_URI` (`memory://` when unset): as configured, password included, in
    /// `Limiter::config`; with the password masked in a manifest, where the CLI takes the real
    /// URI from its own `--storage-uri` or `RATELIMIT_STORAGE_URI`.
    pub storage_uri: String,
    /// The storage backend's scheme name (`memory`, `redis`…); empty when not known.
    pub storage_backend: String,
    /// `RATELIMIT_KEY_PREFIX` (`""` for none).
    pub key_prefix: String,
    /// `RATELIMIT_MAX_KEY_LENGTH`: client keys longer than this many bytes are stored as their
    /// SHA-256 digest.
    pub max_key_length: u64,
    /// The key function's display name (`get_remote_address`).
    #[cfg_attr(feature = "manifest", serde(rename = "key_function"))]
    pub key_func: String,
    /// `RATELIMIT_HEADERS_ENABLED`.
    pub headers_enabled: bool,
    /// The rate-limit response header names.
    pub header_names: HeaderNames,
    /// `RATELIMIT_HEADER_RETRY_AFTER_VALUE`: `delta-seconds` or `http-date`.
    pub retry_after: String,
    /// `RATELIMIT_HEADER_STYLE`: `x-ratelimit`, `ietf` (the IETF `RateLimit` fields) or `both`.
    pub header_style: String,
    /// `RATELIMIT_FAIL_ON_FIRST_BREACH`.
    pub fail_on_first_breach: bool,
    /// `RATELIMIT_SHADOW_MODE`: every limit counted and logged, none refusing.
    #[cfg_attr(feature = "manifest", serde(default))]
    pub shadow_mode: bool,
    /// What a request gets when the storage fails: `in-memory-fallback` (the fallback is
    /// enabled), `fail-open`, or `fail-closed`, usually with the status (`fail-closed (503)`).
    #[cfg_attr(feature = "manifest", serde(rename = "on_storage_error"))]
    pub failure_mode: String,
    /// `RATELIMIT_DEFAULT`, canonical strings (each route lists the defaults it resolves to).
    pub default_limits: Vec<String>,
    /// `RATELIMIT_APPLICATION`: shared limits on every route, scope `global`.
    pub application_limits: Vec<LimitInfo>,
    /// `RATELIMIT_META`: limits on breaches, scope `meta`.
    pub meta_limits: Vec<LimitInfo>,
    /// The in-memory fallback limits, canonical strings (only used while the storage is down;
    /// empty when the fallback uses the normal limits or is off, see
    /// [`failure_mode`](Self::failure_mode)).
    pub in_memory_fallback: Vec<String>,
    /// Whether an `on_breach` callback is set.
    pub on_breach: bool,
}

impl Default for ConfigInfo {
    fn default() -> Self {
        ConfigInfo {
            enabled: true,
            strategy: crate::Strategy::FixedWindow.name().to_owned(),
            gcra_burst: None,
            storage_uri: "memory://".to_owned(),
            storage_backend: String::new(),
            key_prefix: String::new(),
            max_key_length: 256,
            key_func: "get_remote_address".to_owned(),
            headers_enabled: false,
            header_names: HeaderNames::default(),
            retry_after: "delta-seconds".to_owned(),
            header_style: "x-ratelimit".to_owned(),
            fail_on_first_breach: true,
            shadow_mode: false,
            failure_mode: "fail-closed".to_owned(),
            default_limits: Vec::new(),
            application_limits: Vec::new(),
            meta_limits: Vec::new(),
            in_memory_fallback: Vec::new(),
            on_breach: false,
        }
    }
}

/// The names of the rate-limit response headers (Flask-Limiter's `header_name_mapping`).
///
/// One struct for every use: limiter-axum configures its responses with
/// `HeaderNames<http::HeaderName>` (its `HeaderNames`), and [`ConfigInfo`] shows them as
/// `HeaderNames<String>` ([`to_strings`](Self::to_strings)).
///
/// ```
/// use limiter_core::model::HeaderNames;
/// let names = HeaderNames { limit: "RateLimit-Limit".to_owned(), ..HeaderNames::default() };
/// assert_eq!(names.retry_after, "Retry-After");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "manifest",
    derive(serde::Serialize, serde::Deserialize),
    serde(
        default,
        bound(deserialize = "N: serde::Deserialize<'de>, HeaderNames<N>: Default")
    )
)]
pub struct HeaderNames<N = String> {
    /// `RATELIMIT_HEADER_LIMIT` (`X-RateLimit-Limit`).
    pub limit: N,
    /// `RATELIMIT_HEADER_REMAINING` (`X-RateLimit-Remaining`).
    pub remaining: N,
    /// `RATELIMIT_HEADER_RESET` (`X-RateLimit-Reset`).
    pub reset: N,
    /// `RATELIMIT_HEADER_RETRY_AFTER` (`Retry-After`).
    pub retry_after: N,
}

impl<N: AsRef<str>> HeaderNames<N> {
    /// The names as text (for display and manifests).
    pub fn to_strings(&self) -> HeaderNames<String> {
        HeaderNames {
            limit: self.limit.as_ref().to_owned(),
            remaining: self.remaining.as_ref().to_owned(),
            reset: self.reset.as_ref().to_owned(),
            retry_after: self.retry_after.as_ref().to_owned(),
        }
    }
}

impl Default for HeaderNames<String> {
    fn default() -> Self {
        HeaderNames {
            limit: "X-RateLimit-Limit".to_owned(),
            remaining: "X-RateLimit-Remaining".to_owned(),
            reset: "X-RateLimit-Reset".to_owned(),
            retry_after: "Retry-After".to_owned(),
        }
    }
}

/// The typed names limiter-axum sends (lower case, as `http` normalises them).
#[cfg(feature = "http")]
impl Default for HeaderNames<http::HeaderName> {
    fn default() -> Self {
        use http::HeaderName;
        HeaderNames {
            limit: HeaderName::from_static("x-ratelimit-limit"),
            remaining: HeaderName::from_static("x-ratelimit-remaining"),
            reset: HeaderName::from_static("x-ratelimit-reset"),
            retry_after: HeaderName::from_static("retry-after"),
        }
    }
}
