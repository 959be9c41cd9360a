// A flag that `ExemptionScope` does not have.
use limiter_axum::exempt;

#[exempt(flags = DEFAULT | DEFAULTS)]
async fn handler() {}

fn main() {}
