// The value of an option must be a Rust expression.
use limiter_axum::limit;

#[limit("1 per day", key_func = fn)]
async fn handler() {}

fn main() {}
