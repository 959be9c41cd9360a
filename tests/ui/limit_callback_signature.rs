// A function option with the wrong signature is reported at the function's name.
use limiter_axum::limit;

fn not_a_key(_: u8) -> u8 {
    0
}

#[limit("1 per day", key_func = not_a_key)]
async fn handler() {}

fn main() {}
