// Each method is a name (`GET`) or a string (`"get"`).
use limiter_axum::limit;

#[limit("1 per day", methods = [GET, 1])]
async fn number() {}

#[limit("1 per day", methods = [http::Method::GET])]
async fn path() {}

fn main() {}
