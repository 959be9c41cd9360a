// The attributes go on handler functions only.
use limiter_axum::{exempt, limit};

#[limit("1 per day")]
struct Limited;

#[exempt]
const EXEMPTED: u8 = 0;

fn main() {}
