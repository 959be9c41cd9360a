//! The blueprint, meta-limit, dynamic-limit and key tests, with the limiter on a real Redis
//! instead of the memory storage (each test under a Redis key prefix of its own). Needs
//! `LIMITER_TEST_REDIS_URL`, like the other Redis tests.

#[path = "blueprints.rs"]
mod blueprints;

#[path = "meta_dynamic_keys.rs"]
mod meta_dynamic_keys;
