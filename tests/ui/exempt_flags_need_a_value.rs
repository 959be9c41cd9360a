// `flags` without flags; the error points at `flags`.
use limiter_axum::exempt;

#[exempt(flags)]
async fn bare() {}

#[exempt(flags =)]
async fn equals_without_value() {}

fn main() {}
