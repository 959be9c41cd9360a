// Flags are the names of `ExemptionScope`'s constants, not strings.
use limiter_axum::exempt;

#[exempt(flags = "DEFAULT")]
async fn handler() {}

fn main() {}
