// `scope` and `error_message` take string literals.
use limiter_axum::limit;

#[limit("1 per day", scope = group)]
async fn scope() {}

#[limit("1 per day", error_message = 429)]
async fn error_message() {}

fn main() {}
