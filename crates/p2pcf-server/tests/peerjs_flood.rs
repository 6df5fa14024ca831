//! A flood of messages to offline ids: the queues stay under their byte cap and the process's
//! memory stays bounded. Alone in its binary, so no other test's allocations blur the RSS.

mod peerjs_support;

use std::time::{Duration, Instant};

use futures::SinkExt;
use p2pcf_server::ServerConfig;
use peerjs_support::*;
use tokio_tungstenite::tungstenite::Message;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_to_offline_ids_stays_under_the_queue_caps() {
    const ROUNDS: usize = 10_000;
    let mut config = ServerConfig::default();
    config.peerjs.queue_max_bytes_total = 2 << 20;
    config.peerjs.expire_timeout_ms = 60_000;
    let cap = config.peerjs.queue_max_bytes_total;
    let server = start(config).await;
    let mut b = join(server.port, "bob").await;
    let mut flooders = Vec::new();
    for i in 0..4 {
        flooders.push(join(server.port, &format!("flood{i}")).await);
    }
    let before = rss_bytes();
    let payload = "x".repeat(2000);
    let mut sent_bytes = 0usize;
    for round in 0..ROUNDS {
        for (i, ws) in flooders.iter_mut().enumerate() {
            let frame =
                format!(r#"{{"type":"OFFER","dst":"nobody{i}x{round}","payload":"{payload}"}}"#);
            sent_bytes += frame.len();
            ws.feed(Message::text(frame)).await.expect("feed");
        }
        if round % 100 == 0 {
            for ws in &mut flooders {
                ws.flush().await.expect("flush");
            }
            assert!(server.hub.queued_bytes() <= cap);
        }
    }
    for ws in &mut flooders {
        ws.flush().await.expect("flush");
    }
    // The server has read everything once bob's message, sent last, arrives... from a flooder.
    send(
        &mut flooders[0],
        r#"{"type":"OFFER","dst":"bob","payload":"done"}"#,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = next_text(&mut b).await;
        if text.contains("done") {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    let queued = server.hub.queued_bytes();
    let growth = rss_bytes().saturating_sub(before);
    eprintln!("sent {sent_bytes} bytes to offline ids; queued {queued}; RSS growth {growth}");
    assert!(
        sent_bytes > 15 * cap,
        "the flood is far larger than the cap"
    );
    assert!(
        queued <= cap && queued > cap / 2,
        "queued {queued} of cap {cap}"
    );
    assert!(
        growth < 24 << 20,
        "RSS grew by {growth} bytes for a {sent_bytes}-byte flood"
    );
}
