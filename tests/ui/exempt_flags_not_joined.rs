// Flags are combined with `|`, not listed with commas.
use limiter_axum::exempt;

#[exempt(flags = DEFAULT, META)]
async fn handler() {}

fn main() {}
