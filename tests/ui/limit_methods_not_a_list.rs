// `methods` takes a list, even of one method.
use limiter_axum::limit;

#[limit("1 per day", methods = GET)]
async fn handler() {}

fn main() {}
