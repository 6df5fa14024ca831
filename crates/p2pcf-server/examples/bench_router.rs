//! Measures the in-process cost of one valid poll (axum router + validation + room logic, no
//! sockets) for a room of 3 entries and prints it:
//! `cargo run --release -p p2pcf-server --example bench_router`

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

const DTLS: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

fn body(now: u128, i: usize) -> String {
    format!(
        r#"{{"r":"benchroom","k":"ctx{i}","t":{now},"x":120000,"p":[],"d":["sess{i}","client{i}",false,"{DTLS}",{now},["1.2.3.4"]]}}"#
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = p2pcf_server::AppState::new(p2pcf_server::ServerConfig::default())?;
    let app = p2pcf_server::router(state);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let post = |b: String| {
        Request::post("/")
            .header("content-type", "application/json")
            .body(Body::from(b))
    };
    for i in 0..3 {
        app.clone().oneshot(post(body(now, i))?).await?;
    }
    let n = 200_000;
    let start = Instant::now();
    for _ in 0..n {
        let response = app.clone().oneshot(post(body(now, 0))?).await?;
        axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    }
    let per = start.elapsed() / n;
    println!(
        "{n} polls, {per:?} per poll in-process ({:.0}/s on one core)",
        1.0 / per.as_secs_f64()
    );
    Ok(())
}
