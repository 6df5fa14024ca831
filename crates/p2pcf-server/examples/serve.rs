//! Minimal server for load tests without building the whole CLI:
//! `cargo run --release -p p2pcf-server --example serve -- 127.0.0.1:8787`
//! Prints `listening on http://ADDR`, serves until Ctrl-C (memory store, default config).

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8787".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    p2pcf_server::serve(listener, p2pcf_server::ServerConfig::default(), shutdown).await?;
    Ok(())
}
