//! One description of an app and of the requests sent to it, read by both sides: serialized to
//! JSON for the Flask app builder (`tests/flask/differential_app.py`) and turned into a
//! `limiter_axum::Router` by [`crate::ours`].

use axum::http::Method;
use limiter_axum::Strategy;
use serde::{Serialize, Serializer};

/// A `deduct_when` predicate both sides know by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeductWhen {
    /// `status >= 500`.
    ServerError,
    /// `status >= 400` (so a 429 is charged too, as Flask-Limiter runs the predicate on it).
    Error,
}

impl DeductWhen {
    /// Whether a response with `status` is charged.
    pub fn charges(self, status: u16) -> bool {
        match self {
            DeductWhen::ServerError => status >= 500,
            DeductWhen::Error => status >= 400,
        }
    }
}

/// One `@limiter.limit(...)` / `@limiter.shared_limit(...)` (Flask), one `Limit` (ours).
#[derive(Debug, Clone, Serialize)]
pub struct LimitSpec {
    pub value: String,
    pub shared_scope: Option<String>,
    pub per_method: bool,
    pub methods: Option<Vec<String>>,
    pub cost: u64,
    pub override_defaults: bool,
    pub error_message: Option<String>,
    pub deduct_when: Option<DeductWhen>,
}

/// A limit string with Flask-Limiter's default options.
pub fn limit(value: &str) -> LimitSpec {
    LimitSpec {
        value: value.to_owned(),
        shared_scope: None,
        per_method: false,
        methods: None,
        cost: 1,
        override_defaults: true,
        error_message: None,
        deduct_when: None,
    }
}

impl LimitSpec {
    pub fn shared(mut self, scope: &str) -> Self {
        self.shared_scope = Some(scope.to_owned());
        self
    }
    pub fn per_method(mut self) -> Self {
        self.per_method = true;
        self
    }
    pub fn methods(mut self, methods: &[&str]) -> Self {
        self.methods = Some(methods.iter().map(|m| (*m).to_owned()).collect());
        self
    }
    pub fn cost(mut self, cost: u64) -> Self {
        self.cost = cost;
        self
    }
    pub fn keep_defaults(mut self) -> Self {
        self.override_defaults = false;
        self
    }
    pub fn error_message(mut self, message: &str) -> Self {
        self.error_message = Some(message.to_owned());
        self
    }
    pub fn deduct_when(mut self, predicate: DeductWhen) -> Self {
        self.deduct_when = Some(predicate);
        self
    }
}

/// Default or application limits and their extension-level options.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSpec {
    pub limits: Vec<String>,
    pub per_method: bool,
    pub cost: u64,
    pub deduct_when: Option<DeductWhen>,
}

/// Default or application limits with Flask-Limiter's default options.
pub fn group(limits: &[&str]) -> GroupSpec {
    GroupSpec {
        limits: limits.iter().map(|l| (*l).to_owned()).collect(),
        per_method: false,
        cost: 1,
        deduct_when: None,
    }
}

impl GroupSpec {
    pub fn per_method(mut self) -> Self {
        self.per_method = true;
        self
    }
    pub fn cost(mut self, cost: u64) -> Self {
        self.cost = cost;
        self
    }
    pub fn deduct_when(mut self, predicate: DeductWhen) -> Self {
        self.deduct_when = Some(predicate);
        self
    }
}

/// Limit strings alone, with the default options: `.defaults(&["1 per minute"])`.
impl<const N: usize> From<&[&str; N]> for GroupSpec {
    fn from(limits: &[&str; N]) -> Self {
        group(limits)
    }
}

/// Builds our side of a route whose declaration the JSON cannot carry (stacked attributes).
pub type OurRoute = fn() -> limiter_axum::routing::MethodRouter;

/// A route: one view (Flask), one handler entry for all its methods (ours).
#[derive(Debug, Clone, Serialize)]
pub struct RouteSpec {
    /// The endpoint name (`bp.name` inside a blueprint, on both sides).
    pub name: String,
    pub path: String,
    pub methods: Vec<String>,
    /// In the order they are written, top to bottom.
    pub limits: Vec<LimitSpec>,
    /// Exemption flags (`ExemptionScope` names), `None` when not exempt.
    pub exempt: Option<Vec<String>>,
    /// Our side's route, when written by hand; the Flask side still reads `limits`.
    #[serde(skip)]
    pub ours: Option<OurRoute>,
}

/// A `GET` route at `/{name}`.
pub fn route(name: &str) -> RouteSpec {
    RouteSpec {
        name: name.to_owned(),
        path: format!("/{name}"),
        methods: vec!["GET".to_owned()],
        limits: Vec::new(),
        exempt: None,
        ours: None,
    }
}

/// The flags of a bare `@limiter.exempt` / `.exempt()`.
pub const EXEMPT: &[&str] = &["APPLICATION", "DEFAULT", "META"];

impl RouteSpec {
    pub fn methods(mut self, methods: &[&str]) -> Self {
        self.methods = methods.iter().map(|m| (*m).to_owned()).collect();
        self
    }
    pub fn limit(mut self, limit: LimitSpec) -> Self {
        self.limits.push(limit);
        self
    }
    pub fn exempt(mut self, flags: &[&str]) -> Self {
        self.exempt = Some(flags.iter().map(|f| (*f).to_owned()).collect());
        self
    }
    pub fn ours(mut self, route: OurRoute) -> Self {
        self.ours = Some(route);
        self
    }
}

/// A blueprint (Flask), a named router (ours), nested under `prefix`.
#[derive(Debug, Clone, Serialize)]
pub struct BlueprintSpec {
    pub name: String,
    pub prefix: String,
    pub limits: Vec<LimitSpec>,
    pub exempt: Option<Vec<String>>,
    pub routes: Vec<RouteSpec>,
    pub blueprints: Vec<BlueprintSpec>,
}

/// A blueprint `name` at `/{name}`.
pub fn blueprint(name: &str) -> BlueprintSpec {
    BlueprintSpec {
        name: name.to_owned(),
        prefix: format!("/{name}"),
        limits: Vec::new(),
        exempt: None,
        routes: Vec::new(),
        blueprints: Vec::new(),
    }
}

impl BlueprintSpec {
    pub fn limit(mut self, limit: LimitSpec) -> Self {
        self.limits.push(limit);
        self
    }
    pub fn exempt(mut self, flags: &[&str]) -> Self {
        self.exempt = Some(flags.iter().map(|f| (*f).to_owned()).collect());
        self
    }
    pub fn route(mut self, route: RouteSpec) -> Self {
        self.routes.push(route);
        self
    }
    pub fn nest(mut self, child: BlueprintSpec) -> Self {
        self.blueprints.push(child);
        self
    }
}

fn strategy_name<S: Serializer>(strategy: &Strategy, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(strategy)
}

/// The `Retry-After` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RetryAfterForm {
    #[serde(rename = "delta")]
    Seconds,
    #[serde(rename = "http-date")]
    HttpDate,
}

/// A whole app: the `Limiter(...)` arguments, routes and blueprints.
#[derive(Debug, Clone, Serialize)]
pub struct AppSpec {
    #[serde(serialize_with = "strategy_name")]
    pub strategy: Strategy,
    pub headers: bool,
    pub retry_after: RetryAfterForm,
    pub fail_on_first_breach: bool,
    pub default_limits: GroupSpec,
    pub application_limits: GroupSpec,
    pub routes: Vec<RouteSpec>,
    pub blueprints: Vec<BlueprintSpec>,
}

/// An app with headers on, delta-seconds `Retry-After`, no limits and no routes yet.
pub fn app(strategy: Strategy) -> AppSpec {
    AppSpec {
        strategy,
        headers: true,
        retry_after: RetryAfterForm::Seconds,
        fail_on_first_breach: true,
        default_limits: group(&[]),
        application_limits: group(&[]),
        routes: Vec::new(),
        blueprints: Vec::new(),
    }
}

impl AppSpec {
    pub fn without_headers(mut self) -> Self {
        self.headers = false;
        self
    }
    pub fn http_date(mut self) -> Self {
        self.retry_after = RetryAfterForm::HttpDate;
        self
    }
    /// The default limits: limit strings alone, or a [`group`] with its options.
    pub fn defaults(mut self, limits: impl Into<GroupSpec>) -> Self {
        self.default_limits = limits.into();
        self
    }
    /// The application limits: limit strings alone, or a [`group`] with its options.
    pub fn application(mut self, limits: impl Into<GroupSpec>) -> Self {
        self.application_limits = limits.into();
        self
    }
    pub fn fail_on_first_breach(mut self, fail: bool) -> Self {
        self.fail_on_first_breach = fail;
        self
    }
    pub fn route(mut self, route: RouteSpec) -> Self {
        self.routes.push(route);
        self
    }
    pub fn blueprint(mut self, blueprint: BlueprintSpec) -> Self {
        self.blueprints.push(blueprint);
        self
    }

    /// Every limit string of the app, for the timing checks of [`Script`].
    pub fn limit_strings(&self) -> Vec<&str> {
        fn routes<'a>(routes: &'a [RouteSpec], out: &mut Vec<&'a str>) {
            for route in routes {
                out.extend(route.limits.iter().map(|l| l.value.as_str()));
            }
        }
        fn blueprints<'a>(specs: &'a [BlueprintSpec], out: &mut Vec<&'a str>) {
            for blueprint in specs {
                out.extend(blueprint.limits.iter().map(|l| l.value.as_str()));
                routes(&blueprint.routes, out);
                blueprints(&blueprint.blueprints, out);
            }
        }
        let mut out: Vec<&str> = self
            .default_limits
            .limits
            .iter()
            .map(String::as_str)
            .collect();
        out.extend(self.application_limits.limits.iter().map(String::as_str));
        routes(&self.routes, &mut out);
        blueprints(&self.blueprints, &mut out);
        out
    }
}

/// One scripted request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    /// The status the view answers with (its `x-status` header), 200 when `None`.
    pub status: Option<u16>,
}

/// `GET path`.
pub fn get(path: &str) -> Req {
    Req {
        method: Method::GET,
        path: path.to_owned(),
        status: None,
    }
}

/// `POST path`.
pub fn post(path: &str) -> Req {
    Req {
        method: Method::POST,
        ..get(path)
    }
}

/// `HEAD path` (served by the GET view on both sides).
pub fn head(path: &str) -> Req {
    Req {
        method: Method::HEAD,
        ..get(path)
    }
}

/// `OPTIONS path` (a CORS preflight).
pub fn options(path: &str) -> Req {
    Req {
        method: Method::OPTIONS,
        ..get(path)
    }
}

impl Req {
    /// The view answers with `status`.
    pub fn answering(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

/// What one step sends.
#[derive(Debug, Clone)]
pub enum Action {
    /// These requests one after the other, each to both servers at once.
    Sequence(Vec<Req>),
    /// `count` copies of a request, all at once, to both servers at once.
    Burst(Req, usize),
}

/// A step: an action at `at_ms` milliseconds after the script's start.
#[derive(Debug, Clone)]
pub struct Step {
    pub at_ms: u64,
    pub action: Action,
}

/// How `Retry-After` values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfterCheck {
    /// Equal to Flask's; on a 429 the value may instead be the smallest that does not send the
    /// client back before `X-RateLimit-Reset`, and is never 0 (issue 11, difference 1).
    Exact,
    /// While issue 11 difference 1 is open (see [`crate::DIFFERENCE_1_OPEN`]): Flask's value or
    /// one second less, which is the known difference and nothing more.
    KnownDifference1,
}

/// An app and the timed requests sent to it.
#[derive(Debug, Clone)]
pub struct Script {
    pub name: String,
    pub app: AppSpec,
    pub steps: Vec<Step>,
    pub retry_after: RetryAfterCheck,
    /// Whether Flask must answer at least one request with a 429 (a script that never reaches
    /// a limit proves little, unless it is about routes that must not be limited).
    pub expect_429: bool,
}

/// A script named `name` for `app`.
pub fn script(name: impl Into<String>, app: AppSpec) -> Script {
    Script {
        name: name.into(),
        app,
        steps: Vec::new(),
        retry_after: if crate::DIFFERENCE_1_OPEN {
            RetryAfterCheck::KnownDifference1
        } else {
            RetryAfterCheck::Exact
        },
        expect_429: true,
    }
}

impl Script {
    /// Sends `requests` one after the other at `at_ms`.
    pub fn at(mut self, at_ms: u64, requests: impl IntoIterator<Item = Req>) -> Self {
        self.steps.push(Step {
            at_ms,
            action: Action::Sequence(requests.into_iter().collect()),
        });
        self
    }
    /// Sends `count` copies of `request` at once at `at_ms`.
    pub fn burst(mut self, at_ms: u64, request: Req, count: usize) -> Self {
        self.steps.push(Step {
            at_ms,
            action: Action::Burst(request, count),
        });
        self
    }
    /// Compares `Retry-After` exactly (the scripts of difference 1).
    pub fn exact_retry_after(mut self) -> Self {
        self.retry_after = RetryAfterCheck::Exact;
        self
    }
    /// The script is about requests that stay within their limits.
    pub fn without_429(mut self) -> Self {
        self.expect_429 = false;
        self
    }
    /// The same script on another strategy, named after it.
    pub fn on(mut self, strategy: Strategy) -> Self {
        self.name = format!("{} [{strategy}]", self.name);
        self.app.strategy = strategy;
        self
    }
}

/// `n` copies of `request`.
pub fn times(request: Req, n: usize) -> Vec<Req> {
    vec![request; n]
}
