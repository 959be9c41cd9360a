// `per_method`, `override_defaults` and `shared` are bare or `= true` / `= false`.
use limiter_axum::limit;

#[limit("1 per day", per_method = 1)]
async fn per_method() {}

#[limit("1 per day", override_defaults = "no")]
async fn override_defaults() {}

#[limit("1 per day", scope = "group", shared = yes)]
async fn shared() {}

fn main() {}
