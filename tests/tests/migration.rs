//! The migration guide's app (`examples/migration`), the real binary: the `limiter` CLI lists
//! what its layer limits, and over real HTTP the layer enforces the defaults on every route
//! (nested and third-party routers included) and the login limit, behind CORS and tracing.

use limiter_tests::{cargo_binary, flask_429, start_app};
use std::process::Command;

#[test]
fn the_cli_lists_the_layers_routes() {
    let output = Command::new(cargo_binary("limiter"))
        .env_remove("NO_COLOR")
        .args(["--color", "never", "--app"])
        .arg(cargo_binary("migration"))
        .arg("limits")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "app\n\
         ├── *: *\n\
         │   └── 100 per 1 hour\n\
         └── /login: /login\n    \
         └── 5 per 1 minute\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migrated_app_is_limited() {
    let (_child, server) = start_app(Command::new(cargo_binary("migration"))).await;
    let post = |path| server.request(axum::http::Method::POST, path, &[]);

    for _ in 0..5 {
        assert_eq!(post("/login").await.status, 200);
    }
    let refused = post("/login").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body, flask_429("5 per 1 minute"));

    // The state, the nested router and the third-party router: served, under the defaults.
    let hello = server.get("/").await;
    assert_eq!((hello.status, hello.body.as_str()), (200, "hello"));
    assert_eq!(server.get("/users/7").await.body, "user 7");
    assert_eq!(server.get("/ops/health").await.body, "ok");
    // CorsLayer still answers (its headers on every response, the 429s included).
    let origin = [("origin", "https://example.com")];
    let cors = server
        .request(axum::http::Method::POST, "/login", &origin)
        .await;
    assert_eq!(cors.status, 429);
    assert_eq!(cors.header("access-control-allow-origin"), Some("*"));
}
