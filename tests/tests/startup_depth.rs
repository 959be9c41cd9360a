//! An app builds its limiter in `main` without raising `recursion_limit`.
//!
//! rustc computes the layout of every future nested in `main`'s, one query level per layer, and
//! stops at `recursion_limit` (128 by default) with "queries overflow the depth limit". The
//! Redis client's connect futures used to sit inline in `Limiter::build`'s, about 100 levels
//! deep from an app's `main`: a few more layers, more backends or another toolchain took apps
//! past 128 (the benchmark apps needed `#![recursion_limit = "256"]`). The connection is now
//! opened in a boxed future, and the same start-up needs fewer than 64 levels. This file lowers
//! the limit to 80: a start-up future growing deep again stops this test from compiling (in the
//! debug build CI runs, with every backend built in) long before an app reaches 128. (Below 64,
//! proving the test's future `Send` through rustls' error types overflows first.)
#![recursion_limit = "80"]

use limiter_axum::routing::get;
use limiter_axum::{get_remote_address, Limiter, Router};
use limiter_tests::{serve, server_env};

async fn ok() -> &'static str {
    "ok"
}

/// As an app's `main` does: the limiter built on a Redis URI, its router served.
#[tokio::test]
async fn a_redis_limiter_built_in_main_compiles_well_below_the_default_depth() {
    let Some(url) = server_env(
        "LIMITER_TEST_REDIS_URL",
        "a_redis_limiter_built_in_main_compiles_well_below_the_default_depth",
    ) else {
        return;
    };
    let limiter = Limiter::new(get_remote_address)
        .default_limits(["1 per minute"])
        .storage_uri(url)
        .key_prefix(limiter_tests::suite::unique_id("startup-depth"))
        .build()
        .await
        .expect("build the limiter on Redis");
    assert_eq!(limiter.rate_limiter().storage().backend_name(), "redis");
    let app = Router::new()
        .route("/", get(ok))
        .with_limiter(&limiter)
        .unwrap();
    let server = serve(app).await;
    assert_eq!(server.statuses("/", 2).await, [200, 429]);
}
