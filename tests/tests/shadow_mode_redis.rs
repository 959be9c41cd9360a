//! Every shadow-mode test of `shadow_mode.rs`, with the limiter on a real Redis (each test under a
//! Redis key prefix of its own). Needs `LIMITER_TEST_REDIS_URL`, like the other Redis tests.

#[path = "shadow_mode.rs"]
mod shadow_mode;
