// A fixed cost must fit in a u64.
use limiter_axum::limit;

#[limit("1 per day", cost = 99999999999999999999999)]
async fn handler() {}

fn main() {}
