//! Heap allocations per request, counted by a global allocator: the limiter's allowed path on
//! memory storage (fixed window and sliding window counter, the quickstart's two default limits,
//! keyed by peer IP) and its 429 path must not allocate more than axum itself does for a route
//! with a middleware: the same handler behind a pass-through `route_layer`, driven the same way
//! (`Service::call` on a prepared request, polled once). Axum boxes every layered route (a
//! `Route` clone and a boxed future per layer), so that baseline is above a bare route's; both
//! are printed.
//!
//! Only allocations made on the test's own thread while a request is served are counted, so the
//! memory storage's sweeper and other tests do not disturb the figures. Print them with
//! `cargo nextest run -p limiter-tests --test allocations --no-capture`.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Strategy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use tower::Service;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the thread-locals may already be gone while a thread shuts down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; counting only touches
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const REQUESTS: u64 = 2_000;
const WARM_UP: u64 = 200;

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

/// Serves one prepared request, counting the allocations of `call` and of polling its future.
fn serve_counted(app: &mut axum::Router, request: Request<Body>) -> (StatusCode, u64) {
    let mut context = Context::from_waker(Waker::noop());
    assert!(matches!(
        Service::<Request<Body>>::poll_ready(app, &mut context),
        Poll::Ready(Ok(()))
    ));
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|counting| counting.set(true));
    let future = app.call(request);
    let polled = pin!(future).poll(&mut context);
    COUNTING.with(|counting| counting.set(false));
    let allocations = ALLOCATIONS.with(Cell::get);
    let Poll::Ready(Ok(response)) = polled else {
        panic!("the app did not answer at once");
    };
    (response.status(), allocations)
}

/// Average allocations per request over `REQUESTS` requests after a warm-up, each answered with
/// `expected`.
///
/// The router is first given its state, as `axum::serve` does (`into_make_service`), so that
/// handlers are turned into routes once and not on every call.
fn allocations_per_request(app: &mut axum::Router, expected: StatusCode) -> f64 {
    let app = &mut app.clone().with_state::<()>(());
    for _ in 0..WARM_UP {
        serve_counted(app, request());
    }
    let mut total = 0;
    for _ in 0..REQUESTS {
        let (status, allocations) = serve_counted(app, request());
        assert_eq!(status, expected);
        total += allocations;
    }
    total as f64 / REQUESTS as f64
}

fn bare() -> axum::Router {
    axum::Router::new().route("/fast", axum::routing::get(fast))
}

/// The bare route behind a layer that does nothing: what axum allocates for any route middleware.
fn layered() -> axum::Router {
    axum::Router::new()
        .route("/fast", axum::routing::get(fast))
        .route_layer(tower::layer::layer_fn(|service| service))
}

fn limited(strategy: Strategy, limits: &[&'static str], headers: bool) -> axum::Router {
    limited_with(strategy, limits, headers, false)
}

fn limited_with(
    strategy: Strategy,
    limits: &[&'static str],
    headers: bool,
    current_limits: bool,
) -> axum::Router {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let limiter = runtime
        .block_on(
            Limiter::new(get_remote_address)
                .default_limits(limits.iter().copied())
                .strategy(strategy)
                .headers_enabled(headers)
                .current_limits(current_limits)
                .build(),
        )
        .unwrap();
    limiter_axum::Router::new()
        .route("/fast", get(fast))
        .with_limiter(&limiter)
        .unwrap()
}

const NEVER_REACHED: [&str; 2] = ["1000000000 per minute", "1000000000 per second"];

#[test]
fn the_allowed_path_allocates_no_more_than_axum_with_a_route_layer() {
    let bare = allocations_per_request(&mut bare(), StatusCode::OK);
    let layered = allocations_per_request(&mut layered(), StatusCode::OK);
    for strategy in [Strategy::FixedWindow, Strategy::SlidingWindowCounter] {
        let mut app = limited(strategy, &NEVER_REACHED, false);
        let limited = allocations_per_request(&mut app, StatusCode::OK);
        println!(
            "allocations per request: bare axum {bare}, axum with a pass-through route_layer \
             {layered}, limiter ({strategy}) {limited}"
        );
        assert!(
            limited <= layered,
            "{strategy}: {limited} allocations per request, axum with a route layer {layered}"
        );
    }
}

#[test]
fn the_429_path_allocates_less_than_serving() {
    let bare = allocations_per_request(&mut bare(), StatusCode::OK);
    let layered = allocations_per_request(&mut layered(), StatusCode::OK);
    let mut app = limited(Strategy::FixedWindow, &["1 per day"], false);
    serve_counted(&mut app, request());
    let rejected = allocations_per_request(&mut app, StatusCode::TOO_MANY_REQUESTS);
    println!(
        "allocations per request: bare axum {bare}, axum with a pass-through route_layer \
         {layered}, limiter 429 {rejected}"
    );
    assert!(
        rejected < layered,
        "{rejected} allocations per rejected request, axum with a route layer {layered}"
    );
}

/// Not a target: reported for BENCHMARKS.md. The moving window stores one timestamp per hit
/// (its deque grows, amortised), the rate-limit headers are values built per response, and the
/// opt-in `CurrentLimits` (`LimiterBuilder::current_limits`) builds a list, its keys and a
/// request extension.
#[test]
fn report_the_other_paths() {
    let bare = allocations_per_request(&mut bare(), StatusCode::OK);
    let moving = allocations_per_request(
        &mut limited(Strategy::MovingWindow, &NEVER_REACHED, false),
        StatusCode::OK,
    );
    let headers = allocations_per_request(
        &mut limited(Strategy::FixedWindow, &NEVER_REACHED, true),
        StatusCode::OK,
    );
    let current = allocations_per_request(
        &mut limited_with(Strategy::FixedWindow, &NEVER_REACHED, false, true),
        StatusCode::OK,
    );
    println!(
        "allocations per request: bare axum {bare}, moving window {moving}, \
         fixed window with headers {headers}, fixed window with current limits {current}"
    );
}
