//! Heap allocations per request, counted by a global allocator: the limiter's allowed path on
//! memory storage (fixed window and sliding window counter, the quickstart's two default limits,
//! keyed by peer IP) must not allocate more than axum itself does for the same route, and its
//! 429 path must allocate less than serving does. Each app is driven the same way
//! (`Service::call` on a prepared request, polled once).
//!
//! Two shapes of route are measured, because axum clones a route's boxed service on every
//! request and that clone allocates only when the service is not zero-sized: a route whose
//! handler has state (as real apps' do), where the limiter adds nothing; and a stateless `async
//! fn` route, zero-sized in bare axum, where the limiter's handle on its resolved limits (one
//! `Arc`) makes that clone allocate once. A pass-through `route_layer`, what any route
//! middleware costs in axum, is printed beside them.
//!
//! Only allocations made on the test's own thread while a request is served are counted, so the
//! memory storage's sweeper and other tests do not disturb the figures. Print them with
//! `cargo nextest run -p limiter-tests --test allocations --no-capture`.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, StatusCode};
use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Strategy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
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
fn allocations_per_request<St>(app: axum::Router<St>, state: St, expected: StatusCode) -> f64
where
    St: Clone + Send + Sync + 'static,
{
    let app = &mut app.with_state::<()>(state);
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

/// The state of the stateful apps (8 bytes, like most apps' `Arc` of their state).
type AppState = Arc<u64>;

async fn fast_with_state(State(_): State<AppState>) -> &'static str {
    "42"
}

fn bare_with_state() -> axum::Router<AppState> {
    axum::Router::new().route("/fast", axum::routing::get(fast_with_state))
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

fn limiter(
    strategy: Strategy,
    limits: &[&'static str],
    headers: bool,
    current_limits: bool,
) -> Limiter {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(
            Limiter::new(get_remote_address)
                .default_limits(limits.iter().copied())
                .strategy(strategy)
                .headers_enabled(headers)
                .current_limits(current_limits)
                .build(),
        )
        .unwrap()
}

fn limited_with(
    strategy: Strategy,
    limits: &[&'static str],
    headers: bool,
    current_limits: bool,
) -> axum::Router {
    limiter_axum::Router::new()
        .route("/fast", get(fast))
        .with_limiter(&limiter(strategy, limits, headers, current_limits))
        .unwrap()
}

fn limited_with_state(strategy: Strategy, limits: &[&'static str]) -> axum::Router<AppState> {
    limiter_axum::Router::new()
        .route("/fast", get(fast_with_state))
        .with_limiter(&limiter(strategy, limits, false, false))
        .unwrap()
}

const NEVER_REACHED: [&str; 2] = ["1000000000 per minute", "1000000000 per second"];

#[test]
fn the_allowed_path_allocates_no_more_than_axum() {
    let state = AppState::default();
    let bare_stateless = allocations_per_request(bare(), (), StatusCode::OK);
    let layered = allocations_per_request(layered(), (), StatusCode::OK);
    let bare_stateful = allocations_per_request(bare_with_state(), state.clone(), StatusCode::OK);
    for strategy in [Strategy::FixedWindow, Strategy::SlidingWindowCounter] {
        let stateless =
            allocations_per_request(limited(strategy, &NEVER_REACHED, false), (), StatusCode::OK);
        let stateful = allocations_per_request(
            limited_with_state(strategy, &NEVER_REACHED),
            state.clone(),
            StatusCode::OK,
        );
        println!(
            "allocations per request ({strategy}): route with state: bare axum {bare_stateful}, \
             limiter {stateful}; stateless route: bare axum {bare_stateless}, limiter \
             {stateless}, axum with a pass-through route_layer {layered}"
        );
        assert!(
            stateful <= bare_stateful,
            "{strategy}: {stateful} allocations per request, bare axum {bare_stateful}"
        );
        // The one allocation of cloning a route that is no longer zero-sized (see the top).
        assert!(
            stateless <= bare_stateless + 1.0,
            "{strategy}: {stateless} allocations per request, bare axum {bare_stateless}"
        );
    }
}

#[test]
fn the_429_path_allocates_less_than_serving() {
    let state = AppState::default();
    let bare_stateless = allocations_per_request(bare(), (), StatusCode::OK);
    let bare_stateful = allocations_per_request(bare_with_state(), state.clone(), StatusCode::OK);
    // The warm-up's first request uses the day's one hit: every measured request is rejected.
    let stateless = allocations_per_request(
        limited(Strategy::FixedWindow, &["1 per day"], false),
        (),
        StatusCode::TOO_MANY_REQUESTS,
    );
    let stateful = allocations_per_request(
        limited_with_state(Strategy::FixedWindow, &["1 per day"]),
        state,
        StatusCode::TOO_MANY_REQUESTS,
    );
    println!(
        "allocations per request: route with state: bare axum {bare_stateful}, limiter 429 \
         {stateful}; stateless route: bare axum {bare_stateless}, limiter 429 {stateless}"
    );
    assert!(
        stateful < bare_stateful,
        "{stateful} allocations per rejected request, bare axum serving {bare_stateful}"
    );
    assert!(
        stateless <= bare_stateless,
        "{stateless} allocations per rejected request, bare axum serving {bare_stateless}"
    );
}

/// Not a target: reported for BENCHMARKS.md. The moving window stores one timestamp per hit
/// (its deque grows, amortised), the rate-limit headers are values built per response, and the
/// opt-in `CurrentLimits` (`LimiterBuilder::current_limits`) builds a list, its keys and a
/// request extension.
#[test]
fn report_the_other_paths() {
    let bare = allocations_per_request(bare(), (), StatusCode::OK);
    let moving = allocations_per_request(
        limited(Strategy::MovingWindow, &NEVER_REACHED, false),
        (),
        StatusCode::OK,
    );
    let headers = allocations_per_request(
        limited(Strategy::FixedWindow, &NEVER_REACHED, true),
        (),
        StatusCode::OK,
    );
    let current = allocations_per_request(
        limited_with(Strategy::FixedWindow, &NEVER_REACHED, false, true),
        (),
        StatusCode::OK,
    );
    println!(
        "allocations per request: bare axum {bare}, moving window {moving}, \
         fixed window with headers {headers}, fixed window with current limits {current}"
    );
}
