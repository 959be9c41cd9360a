// Methods cannot carry the attributes; their limits are declared in code.
use limiter_axum::{exempt, limit};

struct Api;

impl Api {
    #[limit("1 per day")]
    async fn limited(&self) {}

    #[exempt]
    async fn exempted(self) {}
}

fn main() {}
