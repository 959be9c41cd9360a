//! Every test of `ietf_headers.rs`, with the limiter on a real Redis instead of the memory storage
//! (each test under a Redis key prefix of its own). Needs `LIMITER_TEST_REDIS_URL`, like the other
//! Redis tests.

#[path = "ietf_headers.rs"]
mod ietf_headers;
