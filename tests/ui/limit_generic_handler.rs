// The registration is keyed by the function item's type, which a generic function does not have.
use limiter_axum::{exempt, limit};

#[limit("1 per day")]
async fn limited<T>() {}

#[exempt]
async fn exempted<'a>(_: &'a str) {}

fn main() {}
