// A limit string that does not follow "<amount> per [<multiples>] <unit>".
use limiter_axum::limit;

#[limit("ten per minute")]
async fn handler() {}

fn main() {}
