//! [`LimiterBuilder`]: Flask-Limiter's `Limiter(...)` arguments, in code or from `RATELIMIT_*`
//! environment variables, and the build step that checks them and opens the storage.

use crate::check::failover::Failover;
use crate::check::PartitionKeySecret;
use crate::core::{Core, RequestFilter};
use crate::decl::{DeductWhen, ExemptWhen, Limit, OnBreach};
use crate::error::BuildError;
#[cfg(feature = "fault-injection")]
use crate::fault::FaultSwitch;
use crate::key::KeyFunc;
use crate::limiter::Limiter;
use crate::options::{FailureMode, HeaderNames, HeaderStyle, RetryAfter, UnknownHeaderStyle};
use crate::{Request, RequestLimit, Response};
use limiter_core::clock::SystemClock;
use limiter_core::model::env;
use limiter_core::{MemoryStorage, RateLimiter, Storage, Strategy};
use std::borrow::Cow;
use std::sync::Arc;

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
    enabled: bool,
    fail_on_first_breach: bool,
    on_breach: Option<OnBreach>,
    on_meta_breach: Option<OnBreach>,
    request_filters: Vec<RequestFilter>,
    failure_mode: FailureMode,
    in_memory_fallback_enabled: bool,
    in_memory_fallback: Vec<Limit>,
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
            enabled: true,
            fail_on_first_breach: true,
            on_breach: None,
            on_meta_breach: None,
            request_filters: Vec::new(),
            failure_mode: FailureMode::default(),
            in_memory_fallback_enabled: false,
            in_memory_fallback: Vec::new(),
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
        self.on_breach = Some(Arc::new(callback));
        self
    }

    /// Called when a meta limit rejects a request; a returned response replaces the 429.
    pub fn on_meta_breach<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RequestLimit) -> Option<Response> + Send + Sync + 'static,
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
    /// `RATELIMIT_STORAGE_URI`, `RATELIMIT_STRATEGY`, `RATELIMIT_HEADERS_ENABLED`,
    /// `RATELIMIT_KEY_PREFIX`, `RATELIMIT_SWALLOW_ERRORS`, `RATELIMIT_FAIL_ON_FIRST_BREACH`,
    /// `RATELIMIT_IN_MEMORY_FALLBACK_ENABLED`, `RATELIMIT_HEADER_RETRY_AFTER_VALUE`, and this
    /// crate's own `RATELIMIT_HEADER_STYLE` ([`HeaderStyle`]: `x-ratelimit`, `ietf` or `both`).
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
                Storage::connect(&storage_uri).await?
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
            key_func_name: self.key_func_name,
            default_limits,
            application_limits,
            meta_limits,
            storage_uri,
            strategy: self.strategy,
            primary,
            fallback,
            fallback_limits: self.in_memory_fallback,
            failover: Failover::new(Arc::new(SystemClock)),
            headers_enabled: self.headers_enabled,
            current_limits: self.current_limits,
            header_names: self.header_names,
            retry_after: self.retry_after,
            header_style: self.header_style,
            header_partition_key: self.header_partition_key,
            key_prefix: self.key_prefix,
            enabled: self.enabled,
            fail_on_first_breach: self.fail_on_first_breach,
            on_breach: self.on_breach,
            on_meta_breach: self.on_meta_breach,
            request_filters: self.request_filters,
            failure_mode: self.failure_mode,
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
