//! tower_governor's 429 path: a burst of 1 replenished once a day, so every request after the
//! first (sent during the warm-up) is rejected.

use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = http_bench_apps::tower_governor_app(Duration::from_secs(86_400), 1);
    http_bench_apps::serve(app).await
}
