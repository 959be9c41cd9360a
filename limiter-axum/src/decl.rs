//! Limit declarations: what `#[limit]`, `get(h).limit(…)`, router limits and the limiter's
//! default/application limits are made of. Attributes and code share this one representation.

use crate::key::KeyFunc;
use crate::{Request, RequestHead, RequestLimit, Response};
use axum::http::Method;
use limiter_core::{parse_many, ParseError, RateLimit};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A key function as a plain function pointer (what `#[limit(key_func = f)]` accepts).
pub type KeyFn = for<'a> fn(&'a Request) -> Cow<'a, str>;
/// `exempt_when` as a plain function pointer.
pub type ExemptWhenFn = fn(&Request) -> bool;
/// `deduct_when` as a plain function pointer.
pub type DeductWhenFn = fn(&Response) -> bool;
/// `on_breach` as a plain function pointer.
pub type OnBreachFn = fn(&RequestLimit) -> Option<Response>;
/// A per-request cost as a plain function pointer.
pub type CostFn = fn(&Request) -> u64;

/// How much a request deducts from a limit.
#[derive(Clone, Copy)]
pub enum Cost {
    /// The same for every request (1 unless configured).
    Fixed(u64),
    /// Computed from the request.
    PerRequest(CostFn),
}

impl fmt::Debug for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cost::Fixed(n) => write!(f, "{n}"),
            Cost::PerRequest(_) => f.write_str("<fn>"),
        }
    }
}

pub(crate) type ExemptWhen = Arc<dyn Fn(&Request) -> bool + Send + Sync>;
pub(crate) type DeductWhen = Arc<dyn Fn(&Response) -> bool + Send + Sync>;
pub(crate) type OnBreach =
    Arc<dyn Fn(&RequestLimit, &RequestHead<'_>) -> Option<Response> + Send + Sync>;
pub(crate) type CostFnDyn = Arc<dyn Fn(&Request) -> u64 + Send + Sync>;
pub(crate) type DynamicFn = Arc<dyn Fn(&Request) -> Cow<'static, str> + Send + Sync>;

/// Where a limit's values come from.
#[derive(Clone)]
pub(crate) enum Provider {
    /// Parsed once, at compile time (attributes) or when declared (code).
    Static {
        source: Cow<'static, str>,
        limits: Arc<[RateLimit]>,
    },
    /// A function of the request giving a limit string, parsed per request (with a cache).
    Dynamic(DynamicFn),
    /// A string that did not parse: reported by the build step, never per request.
    Invalid {
        source: Cow<'static, str>,
        error: ParseError,
    },
}

/// One limit declaration, with every option of Flask-Limiter's `limit()`/`shared_limit()`.
///
/// Built by `#[limit]`, by [`Limit::new`] and its builder methods, and by
/// [`MethodRouter::limit`](crate::routing::MethodRouter::limit). A string that does not parse is
/// kept and reported by [`LimiterBuilder::build`](crate::LimiterBuilder::build) or
/// [`Router::with_limiter`](crate::Router::with_limiter), so it can never fail a request.
///
/// ```
/// use limiter_axum::Limit;
/// let limit = Limit::new("5 per minute").scope("login").shared().cost(2);
/// assert_eq!(limit.to_string(), "5 per minute");
/// ```
#[derive(Clone)]
pub struct Limit {
    pub(crate) provider: Provider,
    pub(crate) key_func: Option<Arc<dyn KeyFunc>>,
    pub(crate) scope: Option<Cow<'static, str>>,
    pub(crate) shared: bool,
    pub(crate) per_method: bool,
    pub(crate) methods: Option<Vec<Method>>,
    pub(crate) error_message: Option<Cow<'static, str>>,
    pub(crate) exempt_when: Option<ExemptWhen>,
    pub(crate) deduct_when: Option<DeductWhen>,
    pub(crate) on_breach: Option<OnBreach>,
    pub(crate) override_defaults: bool,
    pub(crate) cost: Option<CostFnDyn>,
    pub(crate) fixed_cost: u64,
    /// Shadow (dry-run): counted and reported, a breach logged, never refused.
    pub(crate) shadow: bool,
    /// Charged after the response, the cost the handler set on it.
    pub(crate) cost_from_response: bool,
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limit")
            .field("limit", &self.to_string())
            .field("scope", &self.scope)
            .field("shared", &self.shared)
            .field("per_method", &self.per_method)
            .field("methods", &self.methods)
            .field("override_defaults", &self.override_defaults)
            .field("shadow", &self.shadow)
            .field("cost_from_response", &self.cost_from_response)
            .finish_non_exhaustive()
    }
}

/// The limit string as declared (or `<dynamic>`).
impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Provider::Static { source, .. } | Provider::Invalid { source, .. } => {
                f.write_str(source)
            }
            Provider::Dynamic(_) => f.write_str("<dynamic>"),
        }
    }
}

impl Limit {
    fn with_provider(provider: Provider) -> Self {
        Limit {
            provider,
            key_func: None,
            scope: None,
            shared: false,
            per_method: false,
            methods: None,
            error_message: None,
            exempt_when: None,
            deduct_when: None,
            on_breach: None,
            override_defaults: true,
            cost: None,
            fixed_cost: 1,
            shadow: false,
            cost_from_response: false,
        }
    }

    /// A limit from a string such as `"10 per minute; 100/day"`, parsed now. A bad string is kept
    /// and reported by the build step.
    pub fn new(value: impl Into<Cow<'static, str>>) -> Self {
        let source = value.into();
        let provider = match parse_many(&source) {
            Ok(limits) => Provider::Static {
                source,
                limits: limits.into(),
            },
            Err(error) => Provider::Invalid { source, error },
        };
        Limit::with_provider(provider)
    }

    /// A limit computed per request (Flask-Limiter's callable `limit_value`), e.g. per user tier.
    /// The string is parsed on first use and cached; a bad string is logged and the limit skipped.
    pub fn dynamic<F>(provider: F) -> Self
    where
        F: Fn(&Request) -> Cow<'static, str> + Send + Sync + 'static,
    {
        Limit::with_provider(Provider::Dynamic(Arc::new(provider)))
    }

    /// The parse error, if the string was malformed.
    pub fn error(&self) -> Option<&ParseError> {
        match &self.provider {
            Provider::Invalid { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The parsed limits (empty for dynamic or malformed limits).
    pub fn rate_limits(&self) -> &[RateLimit] {
        match &self.provider {
            Provider::Static { limits, .. } => limits,
            _ => &[],
        }
    }

    /// Whether the limit is computed per request.
    pub fn is_dynamic(&self) -> bool {
        matches!(self.provider, Provider::Dynamic(_))
    }

    /// Uses this key function instead of the limiter's.
    pub fn key_func(mut self, key_func: impl KeyFunc) -> Self {
        self.key_func = Some(crate::key::boxed_key_func(key_func));
        self
    }

    /// The bucket: `"{endpoint}:{scope}"`, or `scope` alone when [`shared`](Self::shared).
    pub fn scope(mut self, scope: impl Into<Cow<'static, str>>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Shares the counter between every route declaring the same scope.
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// A separate counter per HTTP method (`scope:GET`, `scope:POST`).
    pub fn per_method(mut self) -> Self {
        self.per_method = true;
        self
    }

    /// Limits only these methods; other methods are "method-exempt" from this limit.
    pub fn methods<I: IntoIterator<Item = Method>>(mut self, methods: I) -> Self {
        self.methods = Some(methods.into_iter().collect());
        self
    }

    /// The description in the 429 body instead of the limit's canonical string.
    pub fn error_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.error_message = Some(message.into());
        self
    }

    /// Skips this limit for requests where `predicate` is true.
    pub fn exempt_when<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Request) -> bool + Send + Sync + 'static,
    {
        self.exempt_when = Some(Arc::new(predicate));
        self
    }

    /// Counts a request only if `predicate(response)` is true (checked after the handler; the
    /// limit is only *tested* before it). Runs for 429 responses too, as in Flask-Limiter.
    pub fn deduct_when<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Response) -> bool + Send + Sync + 'static,
    {
        self.deduct_when = Some(Arc::new(predicate));
        self
    }

    /// Called when this limit is breached; a returned response replaces the 429.
    pub fn on_breach<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RequestLimit) -> Option<Response> + Send + Sync + 'static,
    {
        self.on_breach = Some(Arc::new(move |limit, _| callback(limit)));
        self
    }

    /// As [`on_breach`](Self::on_breach), with the request (its method, URI, headers and
    /// extensions) given to the callback too: to answer in the format the client accepts, or
    /// with its request id.
    ///
    /// ```
    /// use axum::http::{header::ACCEPT, StatusCode};
    /// use axum::response::IntoResponse;
    /// use limiter_axum::Limit;
    /// let limit = Limit::new("1 per minute").on_breach_with_request(|limit, request| {
    ///     let json = request.headers.get(ACCEPT).is_some_and(|a| a == "application/json");
    ///     json.then(|| {
    ///         let body = format!("{{\"error\":\"{}\"}}", limit.limit);
    ///         (StatusCode::TOO_MANY_REQUESTS, body).into_response()
    ///     })
    /// });
    /// ```
    pub fn on_breach_with_request<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RequestLimit, &RequestHead<'_>) -> Option<Response> + Send + Sync + 'static,
    {
        self.on_breach = Some(Arc::new(callback));
        self
    }

    /// `false` combines this limit with the default (and inherited router) limits instead of
    /// replacing them.
    pub fn override_defaults(mut self, override_defaults: bool) -> Self {
        self.override_defaults = override_defaults;
        self
    }

    /// Each request deducts `cost` (0 never counts; more than the amount always rejects).
    pub fn cost(mut self, cost: u64) -> Self {
        self.fixed_cost = cost;
        self.cost = None;
        self
    }

    /// Each request deducts `cost(request)`.
    pub fn cost_fn<F>(mut self, cost: F) -> Self
    where
        F: Fn(&Request) -> u64 + Send + Sync + 'static,
    {
        self.cost = Some(Arc::new(cost));
        self
    }

    /// Shadow mode (dry run) for this limit: it is counted, tested and reported in the headers as
    /// any other, but a request it would refuse passes, with a warning logged. The way to roll a
    /// new limit out: watch the warnings, then drop `.shadow()`. See
    /// [Shadow mode](crate#shadow-mode).
    pub fn shadow(mut self) -> Self {
        self.shadow = true;
        self
    }

    /// Charges the limit the cost the handler puts on its response
    /// ([`ResponseCost`](crate::ResponseCost), or the header named by
    /// [`LimiterBuilder::response_cost_header`](crate::LimiterBuilder::response_cost_header)),
    /// after the response: before the handler the limit is only tested with its own cost (1
    /// unless set), so a request is refused when that no longer fits. A response without a cost
    /// is charged the limit's own cost. With [`deduct_when`](Self::deduct_when) too, only the
    /// responses the predicate accepts are charged. See [Cost known after the
    /// response](crate#cost-known-after-the-response).
    pub fn cost_from_response(mut self) -> Self {
        self.cost_from_response = true;
        self
    }

    /// Whether the limit is only tested before the handler and counted after it.
    pub(crate) fn counts_after_response(&self) -> bool {
        self.deduct_when.is_some() || self.cost_from_response
    }

    pub(crate) fn cost_of(&self, request: &Request) -> u64 {
        match &self.cost {
            Some(cost) => cost(request),
            None => self.fixed_cost,
        }
    }
}

impl From<&'static str> for Limit {
    fn from(value: &'static str) -> Self {
        Limit::new(value)
    }
}

impl From<String> for Limit {
    fn from(value: String) -> Self {
        Limit::new(value)
    }
}

/// What the attribute macros generate: a `const` mirror of [`Limit`].
#[doc(hidden)]
pub struct StaticLimit {
    pub source: &'static str,
    pub limits: &'static [RateLimit],
    pub scope: Option<&'static str>,
    pub shared: bool,
    pub per_method: bool,
    pub methods: Option<&'static [&'static str]>,
    pub error_message: Option<&'static str>,
    pub exempt_when: Option<ExemptWhenFn>,
    pub deduct_when: Option<DeductWhenFn>,
    pub on_breach: Option<OnBreachFn>,
    pub key_func: Option<KeyFn>,
    pub override_defaults: bool,
    pub cost: Cost,
    pub shadow: bool,
    pub cost_from_response: bool,
}

impl StaticLimit {
    pub(crate) fn to_limit(&self) -> Limit {
        let mut limit = Limit::with_provider(Provider::Static {
            source: Cow::Borrowed(self.source),
            limits: self.limits.into(),
        });
        limit.scope = self.scope.map(Cow::Borrowed);
        limit.shared = self.shared;
        limit.per_method = self.per_method;
        limit.methods = self.methods.map(|methods| {
            methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .collect()
        });
        limit.error_message = self.error_message.map(Cow::Borrowed);
        if let Some(f) = self.exempt_when {
            limit.exempt_when = Some(Arc::new(f));
        }
        if let Some(f) = self.deduct_when {
            limit.deduct_when = Some(Arc::new(f));
        }
        if let Some(f) = self.on_breach {
            limit.on_breach = Some(Arc::new(move |limit, _| f(limit)));
        }
        if let Some(f) = self.key_func {
            limit.key_func = Some(Arc::new(f));
        }
        limit.override_defaults = self.override_defaults;
        limit.shadow = self.shadow;
        limit.cost_from_response = self.cost_from_response;
        match self.cost {
            Cost::Fixed(n) => limit.fixed_cost = n,
            Cost::PerRequest(f) => limit.cost = Some(Arc::new(f)),
        }
        limit
    }
}
