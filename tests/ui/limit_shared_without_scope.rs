// A shared limit is shared by the routes of one scope, so it needs `scope = "…"`: the error points
// at `shared`, or at `#[shared_limit]` itself.
use limiter_axum::{limit, shared_limit};

#[limit("1 per day", shared)]
async fn shared_option() {}

#[shared_limit("1 per day")]
async fn shared_attribute() {}

#[shared_limit("1 per day", shared = true)]
async fn shared_attribute_and_option() {}

fn main() {}
