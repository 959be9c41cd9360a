// A `|` must be followed by another flag.
use limiter_axum::exempt;

#[exempt(flags = DEFAULT |)]
async fn handler() {}

fn main() {}
