// `#[exempt]` takes nothing or `flags = …`.
use limiter_axum::exempt;

#[exempt(flag = DEFAULT)]
async fn handler() {}

fn main() {}
