// Options are separated from the limit string, and from each other, by commas.
use limiter_axum::limit;

#[limit("1 per day" per_method)]
async fn handler() {}

fn main() {}
