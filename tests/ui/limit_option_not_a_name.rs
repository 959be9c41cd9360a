// An option must start with its name.
use limiter_axum::limit;

#[limit("1 per day", "per_method")]
async fn handler() {}

fn main() {}
