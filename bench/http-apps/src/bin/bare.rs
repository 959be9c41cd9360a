//! Plain axum 0.8: the baseline every ratio is taken against.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = axum::Router::new().route("/fast", axum::routing::get(http_bench_apps::fast));
    http_bench_apps::serve(app).await
}
