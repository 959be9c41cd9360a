// `flags` and its value are joined by `=`.
use limiter_axum::exempt;

#[exempt(flags DEFAULT)]
async fn handler() {}

fn main() {}
