// An option name that `#[limit]` does not know.
use limiter_axum::limit;

#[limit("1 per day", per_user)]
async fn handler() {}

fn main() {}
