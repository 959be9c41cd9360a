// `#[exempt]`'s argument starts with the name `flags`.
use limiter_axum::exempt;

#[exempt("DEFAULT")]
async fn handler() {}

fn main() {}
