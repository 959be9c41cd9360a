//! [`LimiterBuilder`]: Flask-Limiter's `Limiter(...)` arguments, in code or from `RATELIMIT_*`
//! environment variables, and the build step that checks them and opens the storage.

use crate::check::failover::{Failover, DEFAULT_FAILURES_TO_OPEN};
use crate::check::PartitionKeySecret;
use crate::core::{Core, RequestFilter};
use crate::decl::{DeductWhen, ExemptWhen, Limit, OnBreach};
use crate::error::BuildError;
#[cfg(feature = "fault-injection")]
use crate::fault::FaultSwitch;
use crate::key::KeyFunc;
use crate::limiter::Limiter;
use crate::options::{FailureMode, HeaderNames, HeaderStyle, RetryAfter, UnknownHeaderStyle};
use crate::registration::UnroutedHandlers;
use crate::{Request, RequestHead, RequestLimit, Response};
use axum::http::HeaderName;
use limiter_core::clock::SystemClock;
use limiter_core::model::env;
use limiter_core::{MemoryStorage, RateLimiter, Storage, Strategy};
use std::borrow::Cow;
use std::sync::Arc;

/// The longest client key stored as it is, by default (see
/// [`LimiterBuilder::max_key_length`]).
const DEFAULT_MAX_KEY_LENGTH: usize = 256;

/// Configures a [`Limiter`]: Flask-Limiter's `Limiter(key_func, …)` arguments.
///
/// ```
/// use limiter_axum::{get_remote_address, Limiter, Strategy};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let limiter = Limiter::new(get_remote_address)
///     .default_limits(["2 per minute", "1 per second"])
///     .storage_uri("memory://")
///     .strategy(Strategy::FixedWindow)
///     .build()
///     .await?;
/// assert_eq!(limiter.config().default_limits, ["2 per 1 minute", "1 per 1 second"]);
///
/// // A bad limit string is an error of the build step, never a 500 per request.
/// let error = Limiter::new(get_remote_address).default_limits(["2 per mintue"]).build().await;
/// assert!(error.unwrap_err().to_string().contains("invalid default limit"));
/// # Ok::<(), limiter_axum::BuildError>(())
/// # }).unwrap();
/// ```
pub struct LimiterBuilder {
    key_func: Arc<dyn KeyFunc>,
    async_key: Option<crate::key::AsyncKeyFn>,
    key_func_name: String,
    default_limits: Vec<Limit>,
    default_limits_per_method: bool,
    default_limits_exempt_when: Option<ExemptWhen>,
    default_limits_deduct_when: Option<DeductWhen>,
    default_limits_cost: u64,
    application_limits: Vec<Limit>,
    application_limits_per_method: bool,
    application_limits_exempt_when: Option<ExemptWhen>,
    application_limits_deduct_when: Option<DeductWhen>,
    application_limits_cost: u64,
    meta_limits: Vec<Limit>,
    storage_uri: Option<String>,
    storage: Option<Storage>,
    strategy: Strategy,
    headers_enabled: bool,
    current_limits: bool,
    header_names: HeaderNames,
    retry_after: RetryAfter,
    header_style: HeaderStyle,
    header_partition_key: Option<PartitionKeySecret>,
    key_prefix: String,
    max_key_length: usize,
    enabled: bool,
    fail_on_first_breach: bool,
    on_breach: Option<OnBreach>,
    on_meta_breach: Option<OnBreach>,
    request_filters: Vec<RequestFilter>,
    failure_mode: FailureMode,
    unrouted_handlers: UnroutedHandlers,
    in_memory_fallback_enabled: bool,
    in_memory_fallback: Vec<Limit>,
    storage_failures_to_open: u32,
    lazy_storage: Option<bool>,
    shadow_mode: bool,
    shadow_headers: bool,
    response_cost_header: Option<HeaderName>,
    #[cfg(feature = "fault-injection")]
    fault: Option<FaultSwitch>,
}

impl Limiter {
    /// Starts configuring a limiter with its key function (the only required argument), e.g.
    /// [`get_remote_address`](crate::get_remote_address).
    #[allow(clippy::new_ret_no_self)]
    pub fn new<K: KeyFunc>(key_func: K) -> LimiterBuilder {
        let name = std::any::type_name::<K>();
        LimiterBuilder {
            key_func: crate::key::boxed_key_func(key_func),
            async_key: None,
            key_func_name: name.rsplit("::").next().unwrap_or(name).to_owned(),
            default_limits: Vec::new(),
            default_limits_per_method: false,
            default_limits_exempt_when: None,
            default_limits_deduct_when: None,
            default_limits_cost: 1,
            application_limits: Vec::new(),
            application_limits_per_method: false,
            application_limits_exempt_when: None,
            application_limits_deduct_when: None,
            application_limits_cost: 1,
            meta_limits: Vec::new(),
            storage_uri: None,
            storage: None,
            strategy: Strategy::FixedWindow,
            headers_enabled: false,
            current_limits: false,
            header_names: HeaderNames::default(),
            retry_after: RetryAfter::DeltaSeconds,
            header_style: HeaderStyle::XRateLimit,
            header_partition_key: None,
            key_prefix: String::new(),
            max_key_length: DEFAULT_MAX_KEY_LENGTH,
            enabled: true,
            fail_on_first_breach: true,
            on_breach: None,
            on_meta_breach: None,
            request_filters: Vec::new(),
            failure_mode: FailureMode::default(),
            unrouted_handlers: UnroutedHandlers::default(),
            in_memory_fallback_enabled: false,
            in_memory_fallback: Vec::new(),
            storage_failures_to_open: DEFAULT_FAILURES_TO_OPEN,
            lazy_storage: None,
            shadow_mode: false,
            shadow_headers: true,
            response_cost_header: None,
            #[cfg(feature = "fault-injection")]
            fault: None,
        }
    }
}

impl LimiterBuilder {
    /// Limits for every route without its own (`RATELIMIT_DEFAULT`); each item may hold several
    /// limits (`"10/minute;100/day"`) or be a [`Limit`].
    pub fn default_limits<I>(mut self, limits: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Limit>,
    {
        self.default_limits = limits.into_iter().map(Into::into).collect();
        self
    }

    /// A separate default-limit counter per HTTP method.
    pub fn default_limits_per_method(mut self, per_method: bool) -> Self {
        self.default_limits_per_method = per_method;
        self
    }

    /// Skips the default limits for requests where `predicate` is true.
    pub fn default_limits_exempt_when<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Request) -> bool + Send + Sync + 'static,
    {
        self.default_limits_exempt_when = Some(Arc::new(predicate));
        self
    }

    /// Counts default limits only for responses where `predicate` is true.
    pub fn default_limits_deduct_when<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Response) -> bool + Send + Sync + 'static,
    {
        self.default_limits_deduct_when = Some(Arc::new(predicate));
        self
    }

    /// The cost of each request against the default limits.
    pub fn default_limits_cost(mut self, cost: u64) -> Self {
        self.default_limits_cost = cost;
        self
    }

    /// Application-wide limits: one `global` counter per client across all routes.
    pub fn application_limits<I>(mut self, limits: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Limit>,
    {
        self.application_limits = limits.into_iter().map(Into::into).collect();
        self
    }

    /// A separate application-limit counter per HTTP method (`global:GET`).
    pub fn application_limits_per_method(mut self, per_method: bool) -> Self {
        self.application_limits_per_method = per_method;
        self
    }

    /// Skips the application limits for requests where `predicate` is true.
    pub fn application_limits_exempt_when<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Request) -> bool + Send + Sync + 'static,
    {
        self.application_limits_exempt_when = Some(Arc::new(predicate));
        self
    }

    /// Counts application limits only for responses where `predicate` is true.
    pub fn application_limits_deduct_when<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Response) -> bool + Send + Sync + 'static,
    {
        self.application_limits_deduct_when = Some(Arc::new(predicate));
        self
    }

    /// The cost of each request against the application limits.
    pub fn application_limits_cost(mut self, cost: u64) -> Self {
        self.application_limits_cost = cost;
        self
    }

    /// Meta limits: limits on the number of *breaches*. A client that breaches more often than
    /// this is rejected on every route until the meta window expires.
    pub fn meta_limits<I>(mut self, limits: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Limit>,
    {
        self.meta_limits = limits.into_iter().map(Into::into).collect();
        self
    }

    /// Where counters live: `memory://` (the default), `redis://…`, … Opened by
    /// [`build`](Self::build).
    pub fn storage_uri(mut self, uri: impl Into<String>) -> Self {
        self.storage_uri = Some(uri.into());
        self
    }

    /// An already opened storage (takes precedence over [`storage_uri`](Self::storage_uri)).
    pub fn storage(mut self, storage: impl Into<Storage>) -> Self {
        self.storage = Some(storage.into());
        self
    }

    /// The rate-limiting strategy (fixed window by default).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sends `X-RateLimit-*` and `Retry-After` headers (off by default, as in Flask-Limiter).
    pub fn headers_enabled(mut self, enabled: bool) -> Self {
        self.headers_enabled = enabled;
        self
    }

    /// Gives handlers the limits evaluated for their request through the
    /// [`CurrentLimits`](crate::CurrentLimits) extractor (Flask-Limiter's `current_limit` /
    /// `current_limits`). Off by default: building the list costs a few allocations per allowed
    /// request (the storage keys and the request extension), which the allowed path otherwise
    /// avoids. With it off, the extractor rejects the request with a 500 naming this option.
    pub fn current_limits(mut self, enabled: bool) -> Self {
        self.current_limits = enabled;
        self
    }

    /// Renames the rate-limit headers.
    pub fn header_names(mut self, names: HeaderNames) -> Self {
        self.header_names = names;
        self
    }

    /// The `Retry-After` format.
    pub fn retry_after(mut self, format: RetryAfter) -> Self {
        self.retry_after = format;
        self
    }

    /// Which header fields [`headers_enabled`](Self::headers_enabled) sends: Flask-Limiter's
    /// `X-RateLimit-*` (the default), the IETF `RateLimit` and `RateLimit-Policy` fields, or both.
    /// The IETF fields list every limit that applied to the request (`RateLimit-Policy`) and the
    /// state of each one that was counted (`RateLimit`); see [the 429 and the
    /// headers](crate#the-429-and-the-headers).
    pub fn header_style(mut self, style: HeaderStyle) -> Self {
        self.header_style = style;
        self
    }

    /// Sends a partition key (`pk`) in the IETF fields: an HMAC-SHA256 of the limit's storage
    /// identifiers (the client's key and the limit's bucket) under `secret`, so a client can tell
    /// which quota it spends without the field revealing who it is. Give every instance of the application the same
    /// secret so that they send the same keys; without one, no `pk` is sent.
    pub fn header_partition_key(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.header_partition_key = Some(PartitionKeySecret::new(secret));
        self
    }

    /// Prefixes every storage key (except meta limits'): `LIMITER/<prefix>/<key>/<scope>/…`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Replaces the key function with an async one, for keys that need an `.await` (an API
    /// key's owner looked up in a database or a cache). It gets the request's parts (headers,
    /// URI, extensions) and returns a future that owns what it needs (clone it out of the
    /// parts), as axum's middleware do. An empty key skips the limits, as with sync key
    /// functions.
    ///
    /// Only a limiter with an async key function pays for it: its checks always wait (one boxed
    /// future per request). Sync key functions keep their allocation-free path.
    ///
    /// ```
    /// use axum::http::request::Parts;
    /// use limiter_axum::{global_key, Limiter};
    ///
    /// async fn owner_of(api_key: Option<String>) -> String {
    ///     // e.g. a database lookup
    ///     api_key.map(|key| format!("owner-of-{key}")).unwrap_or_default()
    /// }
    ///
    /// let builder = Limiter::new(global_key).async_key_func(|parts: &Parts| {
    ///     let api_key = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    ///     owner_of(api_key)
    /// });
    /// # let _ = builder;
    /// ```
    pub fn async_key_func<F, Fut>(mut self, key_func: F) -> Self
    where
        F: Fn(&axum::http::request::Parts) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = String> + Send + 'static,
    {
        self.async_key = Some(crate::key::boxed_async_key_fn(key_func));
        self.key_func = Arc::new(crate::key::ComputedKeyFunc);
        let name = std::any::type_name::<F>();
        self.key_func_name = name.rsplit("::").next().unwrap_or(name).to_owned();
        self
    }

    /// The longest client key stored as it is, in bytes (`RATELIMIT_MAX_KEY_LENGTH`; 256 by
    /// default). A key function's longer key is replaced by its SHA-256 digest
    /// (`sha256:<64 hex digits>`, 71 bytes, the same in every process), so a client cannot
    /// store keys of any size; shorter keys keep Flask-Limiter's layout. Values below 71 are
    /// raised to 71, the length of a digest.
    pub fn max_key_length(mut self, max: usize) -> Self {
        self.max_key_length = max.max(crate::key::DIGEST_LEN);
        self
    }

    /// `false` turns the limiter off: nothing is checked, counted or sent.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// `true` (the default) stops counting a request's limits at the first breached one; `false`
    /// counts every limit even after a breach.
    pub fn fail_on_first_breach(mut self, fail: bool) -> Self {
        self.fail_on_first_breach = fail;
        self
    }

    /// Called on every breach; a returned response replaces the 429.
    pub fn on_breach<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RequestLimit) -> Option<Response> + Send + Sync + 'static,
    {
        self.on_breach = Some(Arc::new(move |limit, _| callback(limit)));
        self
    }

    /// As [`on_breach`](Self::on_breach), with the request (its method, URI, headers and
    /// extensions: a request id, content negotiation) given to the callback too. The body is not
    /// read: the check runs before the handler's extractors.
    pub fn on_breach_with_request<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RequestLimit, &RequestHead<'_>) -> Option<Response> + Send + Sync + 'static,
    {
        self.on_breach = Some(Arc::new(callback));
        self
    }

    /// Called when a meta limit rejects a request; a returned response replaces the 429.
    pub fn on_meta_breach<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RequestLimit) -> Option<Response> + Send + Sync + 'static,
    {
        self.on_meta_breach = Some(Arc::new(move |limit, _| callback(limit)));
        self
    }

    /// As [`on_meta_breach`](Self::on_meta_breach), with the request given to the callback too.
    pub fn on_meta_breach_with_request<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RequestLimit, &RequestHead<'_>) -> Option<Response> + Send + Sync + 'static,
    {
        self.on_meta_breach = Some(Arc::new(callback));
        self
    }

    /// Requests for which `filter` is true are not limited at all (not even by application or
    /// meta limits). Several filters may be added.
    pub fn request_filter<F>(mut self, filter: F) -> Self
    where
        F: Fn(&Request) -> bool + Send + Sync + 'static,
    {
        self.request_filters.push(Arc::new(filter));
        self
    }

    /// What to do when the storage fails and no in-memory fallback applies.
    pub fn failure_mode(mut self, mode: FailureMode) -> Self {
        self.failure_mode = mode;
        self
    }

    /// What [`Router::with_limiter`](crate::Router::with_limiter) and
    /// [`LayerBuilder::build`](crate::LayerBuilder::build) do about handlers that declare
    /// attributes but were never routed through the limiter (by default, fail naming them).
    ///
    /// The check is process-wide, and runs at each `with_limiter` or `build`: it looks at every
    /// attributed handler linked into the process (whatever crate or module defines it) and
    /// counts as routed any handler a `limiter_axum` routing function (`get`, `post`, …) has
    /// been given so far, for any limiter. So:
    ///
    /// * an app that gives the limiter several routers must create all of them before the
    ///   first `with_limiter` (or nest them into one router): a router created later has not
    ///   routed its handlers yet when the first one is checked;
    /// * a process that builds several apps, each routing only some of its handlers, gets an
    ///   answer that depends on which apps it built first: a test binary whose tests each serve
    ///   a few of its handlers needs [`UnroutedHandlers::Allow`] (or
    ///   [`Warn`](UnroutedHandlers::Warn)). Limiting the check to the crate that builds the
    ///   limiter would not help there, since the tests and their handlers are one crate.
    pub fn unrouted_handlers(mut self, policy: UnroutedHandlers) -> Self {
        self.unrouted_handlers = policy;
        self
    }

    /// Flask-Limiter's `swallow_errors`: `true` is [`FailureMode::FailOpen`].
    pub fn swallow_errors(self, swallow: bool) -> Self {
        self.failure_mode(if swallow {
            FailureMode::FailOpen
        } else {
            FailureMode::default()
        })
    }

    /// When the storage fails, switch to an in-memory storage (same strategy) until a recovery
    /// probe succeeds, as Flask-Limiter's in-memory fallback.
    pub fn in_memory_fallback_enabled(mut self, enabled: bool) -> Self {
        self.in_memory_fallback_enabled = enabled;
        self
    }

    /// Limits that replace every other (non-meta) limit while the storage is down; setting them
    /// enables the fallback.
    pub fn in_memory_fallback<I>(mut self, limits: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Limit>,
    {
        self.in_memory_fallback = limits.into_iter().map(Into::into).collect();
        self
    }

    /// How many storage calls must fail in a row before the circuit breaker opens (default
    /// [`DEFAULT_FAILURES_TO_OPEN`], at least 1). While it is open, decisions skip the storage
    /// and go at once to the in-memory fallback or the failure mode; a recovery probe 1, 2, 4 …
    /// 32 s later closes it. See the reliability guide (`docs/reliability.md`).
    pub fn storage_failures_to_open(mut self, failures: u32) -> Self {
        self.storage_failures_to_open = failures;
        self
    }

    /// Whether [`build`](Self::build) may start without the storage (lazy start): a Redis
    /// storage whose server cannot be reached is then logged (a `tracing` warning with the
    /// cause) and connected in the background, and requests meanwhile get the in-memory
    /// fallback or the failure mode. **Defaults to `true` when the in-memory fallback or
    /// [`FailureMode::FailOpen`] is configured**, since the app can serve without the storage,
    /// and to `false` otherwise: with fail-closed a storage that cannot be opened is a start-up
    /// error with its cause. The `limiter` CLI's manifest run (`LIMITER_INSPECT=manifest`)
    /// always starts lazily, so `limiter limits` and `limiter config` work without the storage.
    pub fn lazy_storage(mut self, lazy: bool) -> Self {
        self.lazy_storage = Some(lazy);
        self
    }

    /// Shadow mode (dry run) for every limit, meta limits included (`RATELIMIT_SHADOW_MODE`):
    /// everything is counted and the headers are sent as usual, but a request a limit would
    /// refuse passes, with a warning logged. Per limit: [`Limit::shadow`]. See
    /// [Shadow mode](crate#shadow-mode).
    pub fn shadow_mode(mut self, enabled: bool) -> Self {
        self.shadow_mode = enabled;
        self
    }

    /// `false` keeps shadow limits out of the rate-limit headers: they report the enforced limits
    /// only, as if the shadow ones were not there (so with [`shadow_mode`](Self::shadow_mode) no
    /// headers are sent). `true` (the default) reports them as any limit, so clients see the
    /// headers they will see once the limit is enforced.
    pub fn shadow_headers(mut self, enabled: bool) -> Self {
        self.shadow_headers = enabled;
        self
    }

    /// A response header in which handlers may give the cost of the
    /// [`cost_from_response`](Limit::cost_from_response) limits, as a decimal integer, instead of
    /// a [`ResponseCost`](crate::ResponseCost) extension; the limiter removes it before the
    /// response leaves. A value that is not an integer is ignored (logged).
    pub fn response_cost_header(mut self, name: HeaderName) -> Self {
        self.response_cost_header = Some(name);
        self
    }

    /// A switch that makes storage calls fail while it is on (feature `fault-injection`).
    #[cfg(feature = "fault-injection")]
    pub fn fault_switch(mut self, switch: FaultSwitch) -> Self {
        self.fault = Some(switch);
        self
    }

    /// Reads the `RATELIMIT_*` environment variables of [Flask-Limiter's
    /// configuration](https://flask-limiter.readthedocs.io/en/stable/configuration.html) (their
    /// names are listed once, in [`limiter_core::model::env`]): `RATELIMIT_ENABLED` (wins over code, as in Flask), and, where not set in
    /// code, `RATELIMIT_DEFAULT`, `RATELIMIT_APPLICATION`, `RATELIMIT_META`,
    /// `RATELIMIT_STORAGE_URI`, `RATELIMIT_STRATEGY`, `RATELIMIT_GCRA_BURST` (GCRA's burst, where
    /// not set in code), `RATELIMIT_HEADERS_ENABLED`,
    /// `RATELIMIT_KEY_PREFIX`, `RATELIMIT_SWALLOW_ERRORS`, `RATELIMIT_FAIL_ON_FIRST_BREACH`,
    /// `RATELIMIT_IN_MEMORY_FALLBACK_ENABLED`, `RATELIMIT_HEADER_RETRY_AFTER_VALUE`; and this
    /// crate's `RATELIMIT_MAX_KEY_LENGTH`, `RATELIMIT_SHADOW_MODE`
    /// ([`shadow_mode`](Self::shadow_mode)) and `RATELIMIT_HEADER_STYLE` ([`HeaderStyle`]:
    /// `x-ratelimit`, `ietf` or `both`).
    pub fn from_env(self) -> Result<Self, BuildError> {
        self.from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read from `lookup`.
    pub fn from_vars(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, BuildError> {
        fn flag(name: &'static str, value: &str) -> Result<bool, BuildError> {
            match value.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(BuildError::Environment {
                    name,
                    message: format!("expected true or false, got '{value}'"),
                }),
            }
        }
        if let Some(v) = lookup(env::ENABLED) {
            self.enabled = flag(env::ENABLED, &v)?;
        }
        if self.default_limits.is_empty() {
            if let Some(v) = lookup(env::DEFAULT) {
                self.default_limits = vec![Limit::new(v)];
            }
        }
        if self.application_limits.is_empty() {
            if let Some(v) = lookup(env::APPLICATION) {
                self.application_limits = vec![Limit::new(v)];
            }
        }
        if self.meta_limits.is_empty() {
            if let Some(v) = lookup(env::META) {
                self.meta_limits = vec![Limit::new(v)];
            }
        }
        if self.storage_uri.is_none() {
            self.storage_uri = lookup(env::STORAGE_URI);
        }
        if let Some(v) = lookup(env::STRATEGY) {
            self.strategy =
                v.parse()
                    .map_err(|e: limiter_core::UnknownStrategy| BuildError::Environment {
                        name: env::STRATEGY,
                        message: e.to_string(),
                    })?;
        }
        if let Some(v) = lookup(env::GCRA_BURST) {
            let burst =
                v.trim()
                    .parse::<std::num::NonZeroU64>()
                    .map_err(|_| BuildError::Environment {
                        name: env::GCRA_BURST,
                        message: format!("expected a whole number of at least 1, got '{v}'"),
                    })?;
            // Where not set in code; ignored by the other strategies.
            if let Strategy::Gcra { burst: None } = self.strategy {
                self.strategy = self.strategy.with_gcra_burst(Some(burst));
            }
        }
        if let Some(v) = lookup(env::HEADERS_ENABLED) {
            self.headers_enabled |= flag(env::HEADERS_ENABLED, &v)?;
        }
        if self.key_prefix.is_empty() {
            if let Some(v) = lookup(env::KEY_PREFIX) {
                self.key_prefix = v;
            }
        }
        if let Some(v) = lookup(env::SWALLOW_ERRORS) {
            if flag(env::SWALLOW_ERRORS, &v)? {
                self.failure_mode = FailureMode::FailOpen;
            }
        }
        if let Some(v) = lookup(env::FAIL_ON_FIRST_BREACH) {
            self.fail_on_first_breach = flag(env::FAIL_ON_FIRST_BREACH, &v)?;
        }
        if let Some(v) = lookup(env::IN_MEMORY_FALLBACK_ENABLED) {
            self.in_memory_fallback_enabled |= flag(env::IN_MEMORY_FALLBACK_ENABLED, &v)?;
        }
        if let Some(v) = lookup(env::MAX_KEY_LENGTH) {
            let max = v.parse().map_err(|_| BuildError::Environment {
                name: env::MAX_KEY_LENGTH,
                message: format!("expected a number of bytes, got '{v}'"),
            })?;
            self = self.max_key_length(max);
        }
        if let Some(v) = lookup(env::SHADOW_MODE) {
            self.shadow_mode |= flag(env::SHADOW_MODE, &v)?;
        }
        if let Some(v) = lookup(env::HEADER_RETRY_AFTER_VALUE) {
            if v == "http-date" {
                self.retry_after = RetryAfter::HttpDate;
            }
        }
        if self.header_style == HeaderStyle::XRateLimit {
            if let Some(v) = lookup(env::HEADER_STYLE) {
                self.header_style =
                    v.parse()
                        .map_err(|e: UnknownHeaderStyle| BuildError::Environment {
                            name: env::HEADER_STYLE,
                            message: e.to_string(),
                        })?;
            }
        }
        Ok(self)
    }

    /// Checks every limit string and opens the storage. Errors here are start-up errors; a built
    /// limiter never fails a request because of its configuration.
    pub async fn build(mut self) -> Result<Limiter, BuildError> {
        self.check_limits()?;
        let (storage_uri, storage) = self.open_storage().await?;
        crate::capacity::check(&storage, "default", &self.default_limits)?;
        crate::capacity::check(&storage, "application", &self.application_limits)?;
        crate::capacity::check(&storage, "meta", &self.meta_limits)?;
        let primary = RateLimiter::new(self.strategy, storage)?;
        let fallback_enabled =
            self.in_memory_fallback_enabled || !self.in_memory_fallback.is_empty();
        let fallback = if fallback_enabled {
            Some(RateLimiter::new(self.strategy, MemoryStorage::new())?)
        } else {
            None
        };
        Ok(Limiter {
            core: Arc::new(self.into_core(storage_uri, primary, fallback)),
            routes: Default::default(),
        })
    }

    /// The first limit string of the limiter's own limits that does not parse, as an error.
    fn check_limits(&self) -> Result<(), BuildError> {
        let places = [
            ("default", &self.default_limits),
            ("application", &self.application_limits),
            ("meta", &self.meta_limits),
            ("in-memory fallback", &self.in_memory_fallback),
        ];
        for (place, limits) in places {
            if let Some(error) = limits.iter().find_map(Limit::error) {
                return Err(BuildError::InvalidLimit {
                    place: place.to_owned(),
                    error: error.clone(),
                });
            }
        }
        Ok(())
    }

    /// The storage URI as configuration reports it, and the storage: the one given, else the
    /// URI's, else memory (with a warning, as Flask-Limiter).
    async fn open_storage(&mut self) -> Result<(String, Storage), BuildError> {
        let storage_uri = self
            .storage_uri
            .clone()
            .unwrap_or_else(|| "memory://".to_owned());
        let storage = match self.storage.take() {
            Some(storage) => storage,
            None => {
                if self.storage_uri.is_none() {
                    tracing::warn!(
                        "Using the in-memory storage for tracking rate limits as no storage was \
                         explicitly specified. This is not recommended for production use."
                    );
                }
                let can_serve_without = self.in_memory_fallback_enabled
                    || !self.in_memory_fallback.is_empty()
                    || self.failure_mode == FailureMode::FailOpen;
                let lazy = self.lazy_storage.unwrap_or(can_serve_without)
                    || limiter_core::manifest::inspect_requested();
                crate::lazy_start::connect(&storage_uri, lazy).await?
            }
        };
        Ok((storage_uri, storage))
    }

    /// The limiter's state, with the limiter-level settings applied to its limits.
    fn into_core(
        self,
        storage_uri: String,
        primary: RateLimiter,
        fallback: Option<RateLimiter>,
    ) -> Core {
        let default_limits = with_settings(
            self.default_limits,
            self.default_limits_per_method,
            &self.default_limits_exempt_when,
            &self.default_limits_deduct_when,
            self.default_limits_cost,
        );
        let mut application_limits = with_settings(
            self.application_limits,
            self.application_limits_per_method,
            &self.application_limits_exempt_when,
            &self.application_limits_deduct_when,
            self.application_limits_cost,
        );
        for limit in &mut application_limits {
            limit.shared = true;
            if limit.scope.is_none() {
                limit.scope = Some(Cow::Borrowed("global"));
            }
        }
        let mut meta_limits = self.meta_limits;
        for limit in &mut meta_limits {
            limit.shared = true;
            limit.deduct_when = None;
            if limit.scope.is_none() {
                limit.scope = Some(Cow::Borrowed("meta"));
            }
        }
        Core {
            key_func: self.key_func,
            async_key: self.async_key,
            key_func_name: self.key_func_name,
            default_limits,
            application_limits,
            meta_limits,
            storage_uri,
            strategy: self.strategy,
            primary,
            fallback,
            fallback_limits: self.in_memory_fallback,
            failover: Failover::new(Arc::new(SystemClock), self.storage_failures_to_open),
            headers_enabled: self.headers_enabled,
            current_limits: self.current_limits,
            header_names: self.header_names,
            retry_after: self.retry_after,
            header_style: self.header_style,
            header_partition_key: self.header_partition_key,
            key_prefix: self.key_prefix,
            max_key_length: self.max_key_length,
            enabled: self.enabled,
            fail_on_first_breach: self.fail_on_first_breach,
            on_breach: self.on_breach,
            on_meta_breach: self.on_meta_breach,
            request_filters: self.request_filters,
            failure_mode: self.failure_mode,
            shadow_mode: self.shadow_mode,
            shadow_headers: self.shadow_headers,
            response_cost_header: self.response_cost_header,
            unrouted_handlers: self.unrouted_handlers,
            dynamic_cache: Default::default(),
            #[cfg(feature = "fault-injection")]
            fault: self.fault,
        }
    }
}

/// `limits` with the limiter-level settings of their kind (default or application limits):
/// strings get them all; `Limit` values keep their own unless unset (Flask-Limiter "finalises"
/// only plain strings).
fn with_settings(
    limits: Vec<Limit>,
    per_method: bool,
    exempt_when: &Option<ExemptWhen>,
    deduct_when: &Option<DeductWhen>,
    cost: u64,
) -> Vec<Limit> {
    limits
        .into_iter()
        .map(|mut limit| {
            limit.per_method |= per_method;
            if limit.exempt_when.is_none() {
                limit.exempt_when = exempt_when.clone();
            }
            if limit.deduct_when.is_none() {
                limit.deduct_when = deduct_when.clone();
            }
            if limit.cost.is_none() && limit.fixed_cost == 1 {
                limit.fixed_cost = cost;
            }
            limit
        })
        .collect()
}
