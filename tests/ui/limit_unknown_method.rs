// A method that is not one of HTTP's nine.
use limiter_axum::limit;

#[limit("1 per day", methods = [GET, FETCH])]
async fn name() {}

#[limit("1 per day", methods = ["get", "fetch"])]
async fn string() {}

fn main() {}
