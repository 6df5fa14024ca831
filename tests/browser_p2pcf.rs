//! Unmodified JavaScript P2PCF clients (npm `p2pcf@1.3.14`) in headless Chromium find each other
//! through a signalling server and talk over their data channel. Run against our Rust server
//! (the point) and against the real `worker.js` under miniflare (proves the harness itself).

use std::time::Duration;

use anyhow::ensure;
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{ev, seeded_bytes, sha256_hex, BrowserPeers};
use p2pcf_tests::server::TestServer;
use p2pcf_tests::worker::RealWorker;
use serde_json::json;

/// P2PCF needs ~10 s to connect on loopback (trickle wait, polling rate); leave room for a busy CI.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(15);

fn unique_room() -> String {
    format!("room-{:08x}", rand::random::<u32>())
}

/// Two pages join one room on `worker_url`, connect, exchange a text message each way and a
/// chunked binary message, then one leaves (answered 200 `{}`) and the other sees it go.
async fn two_js_clients_exchange_messages(worker_url: &str) -> anyhow::Result<()> {
    let mut browser = BrowserPeers::launch().await?;
    let room = unique_room();
    // Alice's requests to the server are traced, to check her leave below.
    let alice = browser
        .open_with("a", worker_url, &room, "alice", json!({}), true)
        .await?;
    let bob = browser.open("b", worker_url, &room, "bob-1").await?;
    ensure!(alice.session_id != bob.session_id, "distinct sessions");

    let seen_by_alice = browser
        .wait_for(
            ev("peerconnect", "a").peer(&bob.session_id),
            CONNECT_TIMEOUT,
        )
        .await?;
    assert_eq!(seen_by_alice["client"], "bob-1");
    let seen_by_bob = browser
        .wait_for(
            ev("peerconnect", "b").peer(&alice.session_id),
            CONNECT_TIMEOUT,
        )
        .await?;
    assert_eq!(seen_by_bob["client"], "alice");

    browser
        .send_text("a", Some(&bob.session_id), "hello from alice")
        .await?;
    let got = browser
        .wait_for(ev("msg", "b").peer(&alice.session_id), MESSAGE_TIMEOUT)
        .await?;
    assert_eq!(got["text"], "hello from alice");

    let reply = "bonjour de bob — ✓";
    browser.send_text("b", None, reply).await?;
    let got = browser
        .wait_for(ev("msg", "a").peer(&bob.session_id), MESSAGE_TIMEOUT)
        .await?;
    assert_eq!(got["text"], reply);
    assert_eq!(got["size"], reply.len());

    // Above the 16000-byte limit, so P2PCF chunks it; the page hashes what it reassembled.
    let size = 40_000;
    let sent = browser
        .send_bytes("a", Some(&bob.session_id), size, 3)
        .await?;
    let expected = sha256_hex(&seeded_bytes(size, 3));
    assert_eq!(
        sent["sha256"],
        expected.as_str(),
        "page and Rust generate the same bytes"
    );
    let got = browser
        .wait_for(ev("msg", "b").peer(&alice.session_id), MESSAGE_TIMEOUT)
        .await?;
    assert_eq!(got["size"], size);
    assert_eq!(got["sha256"], expected.as_str());

    browser.close("a").await?;
    let leave = browser
        .wait_for(
            ev("http", "a").field("workerMethod", json!("DELETE")),
            MESSAGE_TIMEOUT,
        )
        .await?;
    assert_eq!(leave["status"], 200, "leave answered: {leave}");
    assert_eq!(leave["response"], "{}");
    browser
        .wait_for(
            ev("peerclose", "b").peer(&alice.session_id),
            CONNECT_TIMEOUT,
        )
        .await?;
    browser.quit().await
}

#[tokio::test]
async fn js_clients_exchange_messages_through_real_worker() -> anyhow::Result<()> {
    let worker = RealWorker::start(&[]).await?;
    two_js_clients_exchange_messages(&worker.url).await
}

#[tokio::test]
async fn js_clients_exchange_messages_through_our_server() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    two_js_clients_exchange_messages(&server.url).await?;
    server.stop().await
}
