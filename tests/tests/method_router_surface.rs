//! The method router mirror's share of axum's surface, over real HTTP: `layer` and
//! `route_layer` wrap a limited route's handlers (the limiter's check still runs, with the
//! route's limits, and the layer's own effect shows on every answer, 429 included), and
//! `with_state` provides a route's state.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Response};
use limiter_axum::routing::{get, MethodRouter};
use limiter_axum::{Limiter, Router, UnroutedHandlers};
use limiter_tests::serve;
use std::borrow::Cow;

async fn ok() -> &'static str {
    "ok"
}

async fn created() -> &'static str {
    "created"
}

/// Tags every answer that goes through it.
async fn tag(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("x-layer", HeaderValue::from_static("seen"));
    response
}

/// The user a sign-in layer found, for the key function.
#[derive(Clone)]
struct User(String);

/// Signs in the request's `x-user`, refusing anonymous requests with a 401.
async fn sign_in(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get("x-user")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    match user {
        Some(user) => {
            request.extensions_mut().insert(User(user));
            next.run(request).await
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// Keys a request by the user the sign-in layer put in its extensions.
fn user_key(request: &Request) -> Cow<'_, str> {
    match request.extensions().get::<User>() {
        Some(User(user)) => Cow::Borrowed(user.as_str()),
        None => Cow::Borrowed("anonymous"),
    }
}

async fn limiter() -> Limiter {
    // This binary declares no handler attributes; the opt-out keeps it independent of others'.
    Limiter::new(limiter_axum::get_remote_address)
        .headers_enabled(true)
        .unrouted_handlers(UnroutedHandlers::Allow)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_layer_on_a_limited_route_sees_every_answer_and_the_limit_still_holds() {
    let limiter = limiter().await;
    let app = Router::new()
        .route("/items", get(ok).limit("2 per minute").layer(from_fn(tag)))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let reply = server.get("/items").await;
        // The layer wraps the check: its effect shows on the 429 too.
        assert_eq!(reply.header("x-layer"), Some("seen"));
        assert_eq!(reply.header("x-ratelimit-limit"), Some("2"));
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [200, 200, 429]);
    let routes = limiter.routes();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].path, "/items");
    assert_eq!(routes[0].limits[0].limit, "2 per 1 minute");
}

#[tokio::test]
async fn a_layer_wraps_only_the_handlers_added_before_it() {
    let limiter = limiter().await;
    let app = Router::new()
        .route(
            "/items",
            get(ok)
                .limit("1 per minute")
                .layer(from_fn(tag))
                .post(created)
                .limit("1 per minute"),
        )
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let post = server.request(Method::POST, "/items", &[]).await;
    assert_eq!((post.status, post.body.as_str()), (200, "created"));
    assert_eq!(post.header("x-layer"), None);
    let post = server.request(Method::POST, "/items", &[]).await;
    assert_eq!(post.status, 429);
    assert_eq!(post.header("x-layer"), None);
    let get = server.get("/items").await;
    assert_eq!((get.status, get.header("x-layer")), (200, Some("seen")));
    let get = server.get("/items").await;
    assert_eq!((get.status, get.header("x-layer")), (429, Some("seen")));
}

#[tokio::test]
async fn a_route_layer_runs_before_the_check_and_its_refusals_cost_nothing() {
    let limiter = Limiter::new(user_key)
        .headers_enabled(true)
        .unrouted_handlers(UnroutedHandlers::Allow)
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(ok)
                .limit("2 per minute")
                .route_layer(from_fn(sign_in))
                .route_layer(from_fn(tag)),
        )
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    // Refused by the layer before the check: never counted.
    for _ in 0..3 {
        let reply = server.get("/me").await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.header("x-layer"), Some("seen"));
        assert_eq!(reply.header("x-ratelimit-limit"), None);
    }
    // The check sees what the layer put in the request: each user has their own counter.
    let as_user = |user: &'static str| {
        let server = &server;
        async move {
            server
                .request(Method::GET, "/me", &[("x-user", user)])
                .await
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let reply = as_user("ada").await;
        assert_eq!(reply.header("x-layer"), Some("seen"));
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(as_user("grace").await.status, 200);
    assert_eq!(limiter.routes()[0].limits[0].limit, "2 per 1 minute");
}

#[tokio::test]
async fn a_route_layer_leaves_method_not_allowed_alone() {
    let limiter = limiter().await;
    let app = Router::new()
        .route(
            "/items",
            get(ok).limit("1 per minute").route_layer(from_fn(tag)),
        )
        .route("/all", get(ok).limit("1 per minute").layer(from_fn(tag)))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let refused = server.request(Method::DELETE, "/items", &[]).await;
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("x-layer"), None);
    // `layer`, unlike `route_layer`, wraps axum's 405 too.
    let refused = server.request(Method::DELETE, "/all", &[]).await;
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("x-layer"), Some("seen"));
    assert_eq!(server.statuses("/items", 2).await, [200, 429]);
}

async fn greet(State(name): State<&'static str>) -> String {
    format!("hello {name}")
}

#[tokio::test]
async fn with_state_serves_the_state_and_keeps_the_limit() {
    let limiter = limiter().await;
    let greeting: MethodRouter = get(greet).limit("2 per minute").with_state("world");
    let app = Router::new()
        .route("/greet", greeting)
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let reply = server.get("/greet").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello world"));
    assert_eq!(server.statuses("/greet", 2).await, [200, 429]);
    assert_eq!(limiter.routes()[0].limits[0].limit, "2 per 1 minute");
}

#[tokio::test]
async fn a_method_router_with_its_own_state_joins_a_router_with_another() {
    let limiter = limiter().await;
    async fn number(State(n): State<u8>) -> String {
        n.to_string()
    }
    let greeting: MethodRouter<u8> = get(greet).limit("1 per minute").with_state("world");
    let app = Router::new()
        .route("/greet", greeting)
        .route("/number", get(number))
        .with_state(7u8)
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.get("/greet").await.body, "hello world");
    assert_eq!(server.get("/greet").await.status, 429);
    assert_eq!(server.get("/number").await.body, "7");
}

#[tokio::test]
async fn a_layer_sees_the_automatic_options_answer_and_a_route_layer_does_not() {
    let limiter = limiter().await;
    let app = Router::new()
        .route(
            "/layered",
            get(ok)
                .name("layered")
                .limit("1 per minute")
                .layer(from_fn(tag)),
        )
        .route(
            "/routed",
            // Its own endpoint: two routes to one function share its counters, as in Flask.
            get(ok)
                .name("routed")
                .limit("1 per minute")
                .route_layer(from_fn(tag)),
        )
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    // Where axum would answer 405, `layer` wraps the answer and `route_layer` does not.
    let preflight = server.request(Method::OPTIONS, "/layered", &[]).await;
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(preflight.header("x-layer"), Some("seen"));
    let preflight = server.request(Method::OPTIONS, "/routed", &[]).await;
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("x-layer"), None);
    // Neither answer consumed the routes' own limits.
    assert_eq!(server.statuses("/layered", 2).await, [200, 429]);
    assert_eq!(server.statuses("/routed", 2).await, [200, 429]);
}

#[tokio::test]
async fn a_stateful_method_router_keeps_its_layer_on_the_automatic_options_answer() {
    let limiter = limiter().await;
    let greeting: MethodRouter = get(greet)
        .limit("1 per minute")
        .layer(from_fn(tag))
        .with_state("world");
    let app = Router::new()
        .route("/greet", greeting)
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    let preflight = server.request(Method::OPTIONS, "/greet", &[]).await;
    assert_eq!(
        (preflight.status, preflight.header("x-layer")),
        (200, Some("seen"))
    );
    let reply = server.get("/greet").await;
    assert_eq!(
        (reply.body.as_str(), reply.header("x-layer")),
        ("hello world", Some("seen"))
    );
    assert_eq!(server.get("/greet").await.status, 429);
}
