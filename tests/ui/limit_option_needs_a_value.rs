// Options other than the switches need `= value`; the error points at the option's name.
use limiter_axum::limit;

#[limit("1 per day", scope)]
async fn bare() {}

#[limit("1 per day", cost =, per_method)]
async fn equals_without_value() {}

#[limit("1 per day", key_func)]
async fn function_option() {}

fn main() {}
