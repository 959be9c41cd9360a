//! tower_governor (governor's GCRA keyed by peer IP) with a quota equivalent to ours and never
//! reached: a burst of 10⁹, one cell replenished every nanosecond (10⁹ per second).

use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = http_bench_apps::tower_governor_app(Duration::from_nanos(1), 1_000_000_000);
    http_bench_apps::serve(app).await
}
