//! The per-request cost of the limiter inside axum, without the network: a prepared request
//! through `Router::call`, polled once, for a bare route, the same route behind a pass-through
//! `route_layer` (what axum costs for any route middleware), tower_governor (allowed and 429, as
//! in the HTTP bench), our memory limiter (each strategy, the quickstart's two default limits
//! never reached, keyed by peer IP), our 429 path, and the key extraction alone.
//!
//! Header rendering: `*-headers` are the same fixed-window apps with `headers_enabled(true)`
//! (`X-RateLimit-Limit`, `-Remaining`, `-Reset` and `Retry-After` on every response, the last as
//! delta seconds; `-http-date` renders it as an HTTP date instead), so the difference with the
//! app without `-headers` is the cost of rendering them.
//!
//! ```sh
//! cargo bench -p limiter-axum --bench service
//! cargo bench -p limiter-axum --bench service -- headers   # only the header-rendering pairs
//! bench/instructions.sh                                    # instructions per request (callgrind)
//! ```

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use criterion::{criterion_group, Criterion};
use limiter_axum::routing::get;
use limiter_axum::{
    get_remote_address, ForwardedKey, KeyFunc, Limiter, LimiterBuilder, RetryAfter, Strategy,
};
use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use tower::Service;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::GovernorLayer;

async fn fast() -> &'static str {
    "42"
}

fn request() -> Request<Body> {
    let peer: SocketAddr = "10.1.2.3:40000".parse().unwrap();
    Request::builder()
        .uri("/fast")
        .extension(ConnectInfo(peer))
        .body(Body::empty())
        .unwrap()
}

fn serve(app: &mut axum::Router, request: Request<Body>) -> StatusCode {
    let mut context = Context::from_waker(Waker::noop());
    let future = app.call(request);
    match pin!(future).poll(&mut context) {
        Poll::Ready(Ok(response)) => response.status(),
        _ => unreachable!("the app answers at once"),
    }
}

/// Whether the app's answer to one request carries `X-RateLimit-Limit` (a set-up check that the
/// `*-headers` apps render what they claim to).
fn renders_headers(app: &mut axum::Router) -> bool {
    let mut context = Context::from_waker(Waker::noop());
    let future = app.call(request());
    match pin!(future).poll(&mut context) {
        Poll::Ready(Ok(response)) => response.headers().contains_key("x-ratelimit-limit"),
        _ => unreachable!("the app answers at once"),
    }
}

fn limited(strategy: Strategy, limits: &[&'static str]) -> axum::Router {
    limited_with(strategy, limits, |builder| builder)
}

/// [`limited`] with more settings applied to the builder.
fn limited_with(
    strategy: Strategy,
    limits: &[&'static str],
    configure: impl FnOnce(LimiterBuilder) -> LimiterBuilder,
) -> axum::Router {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let builder = Limiter::new(get_remote_address)
        .default_limits(limits.iter().copied())
        .strategy(strategy);
    let limiter = runtime.block_on(configure(builder).build()).unwrap();
    limiter_axum::Router::new()
        .route("/fast", get(fast))
        .with_limiter(&limiter)
        .unwrap()
}

/// Every app of the `request/` group: (name, router, the status it answers).
/// An app of the `request/` group: its name, the status it answers, and how to build it (built
/// only when measured: each limiter runs a sweeper thread, which the instruction counts of
/// another app should not include).
type App = (&'static str, StatusCode, Box<dyn Fn() -> axum::Router>);

/// Every app of the `request/` group.
fn apps() -> Vec<App> {
    const NEVER: [&str; 2] = ["1000000000 per minute", "1000000000 per second"];
    // tower_governor as the HTTP bench runs it: keyed by peer IP, a quota never reached, and
    // everything rejected after the first request for its 429 path.
    fn governor(per_nanosecond: u64, burst: u32) -> axum::Router {
        let config = GovernorConfigBuilder::default()
            .per_nanosecond(per_nanosecond)
            .burst_size(burst)
            .finish()
            .expect("a valid quota");
        axum::Router::new()
            .route("/fast", axum::routing::get(fast))
            .layer(GovernorLayer::new(config))
    }
    /// `app` after one request, which uses the only hit its limit allows.
    fn exhausted(mut app: axum::Router) -> axum::Router {
        serve(&mut app, request());
        app
    }
    fn headers(builder: LimiterBuilder) -> LimiterBuilder {
        builder.headers_enabled(true)
    }
    fn http_date(builder: LimiterBuilder) -> LimiterBuilder {
        builder
            .headers_enabled(true)
            .retry_after(RetryAfter::HttpDate)
    }
    let ok = StatusCode::OK;
    let rejected = StatusCode::TOO_MANY_REQUESTS;
    vec![
        (
            "bare",
            ok,
            Box::new(|| axum::Router::new().route("/fast", axum::routing::get(fast))),
        ),
        (
            "pass-through-route-layer",
            ok,
            Box::new(|| {
                axum::Router::new()
                    .route("/fast", axum::routing::get(fast))
                    .route_layer(tower::layer::layer_fn(|service| service))
            }),
        ),
        (
            "tower-governor",
            ok,
            Box::new(|| governor(1, 1_000_000_000)),
        ),
        (
            "tower-governor-429",
            rejected,
            Box::new(|| exhausted(governor(86_400_000_000_000, 1))),
        ),
        (
            "limiter-fixed-window",
            ok,
            Box::new(|| limited(Strategy::FixedWindow, &NEVER)),
        ),
        (
            "limiter-moving-window",
            ok,
            Box::new(|| limited(Strategy::MovingWindow, &NEVER)),
        ),
        (
            "limiter-sliding-window-counter",
            ok,
            Box::new(|| limited(Strategy::SlidingWindowCounter, &NEVER)),
        ),
        (
            "limiter-429",
            rejected,
            Box::new(|| exhausted(limited(Strategy::FixedWindow, &["1 per day"]))),
        ),
        // Header rendering: fixed-window apps above again, with headers on.
        (
            "limiter-fixed-window-headers",
            ok,
            Box::new(|| limited_with(Strategy::FixedWindow, &NEVER, headers)),
        ),
        (
            "limiter-fixed-window-headers-http-date",
            ok,
            Box::new(|| limited_with(Strategy::FixedWindow, &NEVER, http_date)),
        ),
        (
            "limiter-429-headers",
            rejected,
            Box::new(|| exhausted(limited_with(Strategy::FixedWindow, &["1 per day"], headers))),
        ),
    ]
}

/// Builds `app`, checking that it renders rate-limit headers exactly when its name says so.
fn build((name, _, build): &App) -> axum::Router {
    let mut app = build();
    assert_eq!(
        renders_headers(&mut app),
        name.contains("-headers"),
        "{name}"
    );
    app
}

fn bench_service(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("request");
    for app in apps() {
        let (name, status) = (app.0, app.1);
        // As `axum::serve` does: handlers become routes once, not per call.
        let mut app = build(&app).with_state::<()>(());
        group.bench_function(name, |bencher| {
            bencher.iter_batched(
                request,
                |request| assert_eq!(serve(&mut app, request), status),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let request = request();
    // What a user's own key function gets: the `Cow` form (an owned `String` for an address).
    criterion.bench_function("key/get_remote_address-cow-v4", |bencher| {
        bencher.iter(|| black_box(KeyFunc::key(&get_remote_address, black_box(&request))))
    });
    // What the limiter calls: the inline form, no allocation (the same as for
    // `get_remote_address` given to `Limiter::new`).
    let forwarded = ForwardedKey::new();
    criterion.bench_function("key/request_key-inline-v4", |bencher| {
        bencher.iter(|| black_box(forwarded.request_key(black_box(&request)).len()))
    });
}

/// Serves `count` requests through the app `name`, without criterion: the instruction-count mode
/// (`bench/instructions.sh` runs it under callgrind, whose counts do not depend on the load of
/// the machine).
fn serve_only(name: &str, count: u64) {
    let Some(app) = apps().into_iter().find(|app| app.0 == name) else {
        panic!("no app named {name}");
    };
    let status = app.1;
    let mut app = build(&app).with_state::<()>(());
    for _ in 0..count {
        assert_eq!(serve(&mut app, request()), status);
    }
}

criterion_group!(benches, bench_service);

fn main() {
    // `LIMITER_BENCH_SERVE=<app>:<requests>`: the instruction-count mode.
    if let Ok(spec) = std::env::var("LIMITER_BENCH_SERVE") {
        let (name, count) = spec.split_once(':').expect("<app>:<requests>");
        serve_only(name, count.parse().expect("a number of requests"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
