//! Rust↔JS: our Rust client and an unmodified JS P2PCF (npm `p2pcf@1.3.14`) in headless Chromium
//! meet in one room — through our server AND through the real `worker.js` under miniflare — and
//! exchange text and large messages both ways; each side sees the other leave.

use std::time::Duration;

use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{ev, seeded_bytes, sha256_hex, BrowserPeers};
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::server::TestServer;
use p2pcf_tests::worker::RealWorker;
use serde_json::Value;

const CONNECT: Duration = Duration::from_secs(60);
const MESSAGE: Duration = Duration::from_secs(60);

fn room() -> String {
    format!("mixed-{:08x}", rand::random::<u32>())
}

async fn rust_and_js_exchange(worker_url: &str) -> anyhow::Result<()> {
    let mut browser = BrowserPeers::launch().await?;
    let room = room();
    let mut rust = RustPeer::join(worker_url, &room, "rusty").await?;
    let js = browser.open("js", worker_url, &room, "jsclient").await?;

    // Both sides see the other connect, with the right ids.
    let seen = rust.connected(1, CONNECT).await?;
    assert_eq!(seen[0].0.to_string(), js.session_id);
    assert_eq!(seen[0].1, "jsclient");
    let rust_id = rust.session_id().to_string();
    let connect = browser
        .wait_for(ev("peerconnect", "js").peer(&rust_id), CONNECT)
        .await?;
    assert_eq!(connect["client"], "rusty");
    let js_peer = seen[0].0.clone();

    // Text both ways.
    browser
        .send_text("js", Some(&rust_id), "hello from the browser ✓")
        .await?;
    let (from, data) = rust.message(MESSAGE).await?;
    assert_eq!(from, js_peer);
    assert_eq!(std::str::from_utf8(&data)?, "hello from the browser ✓");
    rust.handle
        .send(&js_peer, "hello from rust ✓".as_bytes().to_vec())
        .await?;
    let got = browser
        .wait_for(ev("msg", "js").peer(&rust_id), MESSAGE)
        .await?;
    assert_eq!(got["text"], "hello from rust ✓");

    // 1 MB and 10 MB both ways, hash-checked on the receiving side.
    for (size, seed) in [(1_000_000usize, 11u32), (10_000_000, 12)] {
        let expected = sha256_hex(&seeded_bytes(size, seed));
        let sent = browser.send_bytes("js", Some(&rust_id), size, seed).await?;
        assert_eq!(sent["sha256"], expected.as_str());
        let (from, data) = rust.message(MESSAGE).await?;
        assert_eq!(from, js_peer);
        assert_eq!(data.len(), size);
        assert_eq!(sha256_hex(&data), expected, "JS → Rust {size} bytes");

        let seed = seed + 100;
        let bytes = seeded_bytes(size, seed);
        rust.handle.send(&js_peer, bytes.clone()).await?;
        let got: Value = browser
            .wait_for(ev("msg", "js").peer(&rust_id), MESSAGE)
            .await?;
        assert_eq!(got["size"], size);
        assert_eq!(
            got["sha256"],
            sha256_hex(&bytes).as_str(),
            "Rust → JS {size} bytes"
        );
    }

    // The Rust side leaves: the browser sees the peer close.
    rust.handle.leave().await;
    browser
        .wait_for(
            ev("peerclose", "js").peer(&rust_id),
            Duration::from_secs(30),
        )
        .await?;

    // A second Rust client joins; then the browser leaves: Rust sees the peer close.
    let mut second = RustPeer::join(worker_url, &room, "rusty-2").await?;
    let seen = second.connected(1, CONNECT).await?;
    assert_eq!(seen[0].0.to_string(), js.session_id);
    browser.close("js").await?;
    second.closed(&seen[0].0, Duration::from_secs(30)).await?;
    second.handle.leave().await;
    browser.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_js_p2pcf_talk_through_our_server() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    rust_and_js_exchange(&server.url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_js_p2pcf_talk_through_the_real_worker() -> anyhow::Result<()> {
    let worker = RealWorker::start(&[]).await?;
    rust_and_js_exchange(&worker.url).await
}
