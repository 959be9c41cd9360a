// A number in the limit string that does not fit in a u64.
use limiter_axum::limit;

#[limit("99999999999999999999 per second")]
async fn handler() {}

fn main() {}
