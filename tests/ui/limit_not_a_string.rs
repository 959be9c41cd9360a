// The first argument must be the rate limit string, as a string literal.
use limiter_axum::limit;

#[limit(10)]
async fn handler() {}

fn main() {}
