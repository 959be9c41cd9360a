//! Every test of `response_cost.rs`, with the limiter on a real Redis (each test under a Redis
//! key prefix of its own). Needs `LIMITER_TEST_REDIS_URL`, like the other Redis tests.

#[path = "response_cost.rs"]
mod response_cost;
