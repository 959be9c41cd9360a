use limiter_axum::limit;

#[limit("1 per dya")]
async fn slow() -> &'static str {
    "24"
}

fn main() {}
