// `#[limit]` without its rate limit string.
use limiter_axum::limit;

#[limit]
async fn handler() {}

fn main() {}
