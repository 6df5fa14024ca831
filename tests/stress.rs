//! Stress: 20 HTTP-level P2PCF clients join one room at the same moment. Each follows the JS
//! client's sequence: a read-only first poll, which sees nobody, so an immediate publish with
//! `d` + `p` (all 20 concurrently), then steady-state polls. On our server everyone must see the
//! 19 others; on the real worker (whose read-modify-write over R2 loses concurrent entries) the
//! losses are only printed.

#[path = "conformance/fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use fixtures::{now_ms, post_json, room_id, seen_sessions, Peer};
use p2pcf_server::ServerConfig;
use p2pcf_tests::server::TestServer;
use p2pcf_tests::worker::RealWorker;
use serde_json::Value;
use tokio::sync::Barrier;

const CLIENTS: usize = 20;

/// What one simultaneous join produced.
struct JoinResult {
    /// Per client: the session ids it saw on the poll after everyone had published.
    seen: Vec<Vec<String>>,
    /// Entries a read-only observer sees afterwards.
    visible: usize,
    /// Clients whose publish answer carried a delete key.
    with_delete_key: usize,
}

async fn join_at_once(url: &str) -> anyhow::Result<JoinResult> {
    let room = room_id("stress");
    let t = now_ms();
    let start = Arc::new(Barrier::new(CLIENTS));
    let published = Arc::new(Barrier::new(CLIENTS));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (url, room) = (url.to_owned(), room.clone());
            let (start, published) = (start.clone(), published.clone());
            tokio::spawn(async move {
                // One HTTP client per P2PCF client: separate connections, like separate browsers.
                let client = fixtures::http_client();
                let peer = Peer::new(&format!("p{i:02}"));
                start.wait().await;
                let (status, first) = post_json(&client, &url, &peer.read(&room)).await?;
                anyhow::ensure!(status == 200, "first poll: {status} {first}");
                let (status, body) = post_json(
                    &client,
                    &url,
                    &peer.publish(&room, t, serde_json::json!([])),
                )
                .await?;
                anyhow::ensure!(status == 200, "publish: {status} {body}");
                let has_dk = serde_json::from_str::<Value>(&body)?["dk"].is_string();
                published.wait().await;
                let (status, body) = post_json(&client, &url, &peer.poll(&room, t)).await?;
                anyhow::ensure!(status == 200, "poll: {status} {body}");
                let mut seen = seen_sessions(&serde_json::from_str(&body)?);
                seen.sort();
                Ok::<_, anyhow::Error>((seen, has_dk))
            })
        })
        .collect();
    let mut result = JoinResult {
        seen: Vec::new(),
        visible: 0,
        with_delete_key: 0,
    };
    for task in tasks {
        let (seen, has_dk) = task.await??;
        result.seen.push(seen);
        result.with_delete_key += usize::from(has_dk);
    }
    let (status, body) = post_json(
        &fixtures::http_client(),
        url,
        &serde_json::json!({"r": room}),
    )
    .await?;
    anyhow::ensure!(status == 200, "observer: {status} {body}");
    result.visible = seen_sessions(&serde_json::from_str(&body)?).len();
    Ok(result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_simultaneous_joiners_all_see_each_other() {
    let server = TestServer::start(ServerConfig::default())
        .await
        .expect("start server");
    // A few rounds, each in a fresh room, to give races more than one chance.
    for round in 0..5 {
        let result = tokio::time::timeout(Duration::from_secs(120), join_at_once(&server.url))
            .await
            .expect("round timed out")
            .expect("round failed");
        assert_eq!(
            result.visible, CLIENTS,
            "round {round}: observer sees every entry"
        );
        assert_eq!(
            result.with_delete_key, CLIENTS,
            "round {round}: every publish got a dk"
        );
        for (i, seen) in result.seen.iter().enumerate() {
            let me = format!("session-p{i:02}");
            let mut expected: Vec<String> = (0..CLIENTS)
                .map(|j| format!("session-p{j:02}"))
                .filter(|s| *s != me)
                .collect();
            expected.sort();
            assert_eq!(
                seen, &expected,
                "round {round}: client {i} sees the 19 others"
            );
        }
    }
    assert!(!server.is_finished(), "server still running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_simultaneous_joiners_on_real_worker_are_reported() {
    let worker = RealWorker::start(&[]).await.expect("start worker");
    let result = tokio::time::timeout(Duration::from_secs(180), join_at_once(&worker.url))
        .await
        .expect("worker round timed out")
        .expect("worker round failed");
    let seen: Vec<usize> = result.seen.iter().map(Vec::len).collect();
    // Not asserted: the worker is known to lose concurrent entries. Printed for the record.
    println!(
        "real worker: {} of {CLIENTS} entries survived ({} lost); peers seen per client: {seen:?}",
        result.visible,
        CLIENTS - result.visible
    );
}
