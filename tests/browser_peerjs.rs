//! The unmodified PeerJS client (npm `peerjs@1.5.5`, bundled with esbuild) in headless Chromium,
//! through OUR server's PeerJS endpoint: server-assigned ids, DataConnections with each
//! serialization (text both ways, 5 MB hash-checked over `binary`), a media call with Chromium's
//! fake camera rendered on both sides, `peer-unavailable` timing, `unavailable-id`, `reconnect()`
//! after a socket drop, and `destroy()` seen by the other side. One browser and one server are
//! shared by all steps. The same flow also runs through the official server (npm `peer@1.0.2`),
//! which proves the harness; the binary takes ~40 s.

use std::time::Duration;

use anyhow::{ensure, Context};
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{ev, seeded_bytes, sha256_hex};
use p2pcf_tests::peerjs_browser::{str_field, PeerJsBrowser};
use p2pcf_tests::peerjs_server::{OfficialOptions, OfficialPeerServer};
use p2pcf_tests::server::TestServer;
use serde_json::{json, Value};

/// Short, so the `peer-unavailable` step stays short; the client sees it within this + 1 s.
const EXPIRE_TIMEOUT_MS: u64 = 2000;
const CONNECT: Duration = Duration::from_secs(30);
const TRANSFER: Duration = Duration::from_secs(60);

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
}

/// Creates the `Peer` of page `page` (server-assigned id unless `peer_id`); returns the harness
/// result (`{peerId}` or `{error: {type, message}}`).
async fn create(
    browser: &mut PeerJsBrowser,
    page: &str,
    port: u16,
    peer_id: Option<&str>,
) -> anyhow::Result<Value> {
    browser.open(page).await?;
    browser
        .eval(
            page,
            "create",
            json!({ "id": page, "host": "127.0.0.1", "port": port, "path": "/peerjs", "peerId": peer_id }),
        )
        .await
}

/// Opens a DataConnection `label` from page `a` to peer `to` (held by page `b`), waits for both
/// ends to open.
async fn connect(
    browser: &mut PeerJsBrowser,
    (a, b): (&str, &str),
    to: &str,
    label: &str,
    serialization: &str,
) -> anyhow::Result<()> {
    browser
        .eval(
            a,
            "connect",
            json!({ "to": to, "label": label, "serialization": serialization }),
        )
        .await?;
    let label_is = |e: &Value| e["label"] == label;
    let incoming = browser
        .wait_for(
            |e: &Value| ev("connection", b).matches(e) && label_is(e),
            CONNECT,
        )
        .await?;
    ensure!(
        incoming["serialization"] == serialization,
        "serialization seen by {b}: {incoming}"
    );
    browser
        .wait_for(
            |e: &Value| ev("connopen", a).matches(e) && label_is(e),
            CONNECT,
        )
        .await?;
    browser
        .wait_for(
            |e: &Value| ev("connopen", b).matches(e) && label_is(e),
            CONNECT,
        )
        .await?;
    Ok(())
}

/// Sends `text` on `label` from page `from` and checks page `to` receives exactly it.
async fn text_over(
    browser: &mut PeerJsBrowser,
    (from, to): (&str, &str),
    label: &str,
    text: &str,
) -> anyhow::Result<()> {
    browser
        .eval(from, "send", json!({ "label": label, "text": text }))
        .await?;
    let got = browser
        .wait_for(
            |e: &Value| ev("data", to).matches(e) && e["label"] == label,
            CONNECT,
        )
        .await?;
    ensure!(
        got["kind"] == "string" && got["text"] == text,
        "{label}: {to} got {got}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peerjs_clients_through_our_server() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let mut config = ServerConfig::default();
    config.peerjs.expire_timeout_ms = EXPIRE_TIMEOUT_MS;
    let server = TestServer::start(config).await?;
    let mut browser = PeerJsBrowser::launch().await?;
    // We expire exactly on time: peer-unavailable within the expire timeout + 1 s.
    client_flow(&mut browser, server.addr.port(), EXPIRE_TIMEOUT_MS + 1000).await?;
    browser.quit().await?;
    server.stop().await
}

/// The same flow through the official server proves the harness (and that every step is what
/// upstream does). Its expiry sweep runs every 1000 ms, so `peer-unavailable` may take up to
/// 1 s longer there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peerjs_clients_through_official_server() -> anyhow::Result<()> {
    let official = OfficialPeerServer::start(&OfficialOptions {
        expire_timeout_ms: EXPIRE_TIMEOUT_MS,
        ..OfficialOptions::default()
    })
    .await?;
    let mut browser = PeerJsBrowser::launch().await?;
    client_flow(&mut browser, official.port, EXPIRE_TIMEOUT_MS + 2000).await?;
    browser.quit().await
}

/// Every step, against the PeerJS server on `127.0.0.1:{port}` at `/peerjs`.
async fn client_flow(
    browser: &mut PeerJsBrowser,
    port: u16,
    unavailable_within_ms: u64,
) -> anyhow::Result<()> {
    // Server-assigned ids (GET {path}{key}/id across origins, then the WebSocket).
    let a_open = create(browser, "a", port, None).await?;
    let b_open = create(browser, "b", port, None).await?;
    let a_id = str_field(&a_open, "peerId").context("page a")?.to_owned();
    let b_id = str_field(&b_open, "peerId").context("page b")?.to_owned();
    ensure!(is_uuid_v4(&a_id) && is_uuid_v4(&b_id), "ids {a_id} {b_id}");
    ensure!(a_id != b_id, "distinct ids");

    // A DataConnection per serialization, text both ways.
    for serialization in ["binary", "json", "raw"] {
        let label = format!("dc-{serialization}");
        connect(browser, ("a", "b"), &b_id, &label, serialization).await?;
        text_over(
            browser,
            ("a", "b"),
            &label,
            &format!("hello over {serialization} ✓"),
        )
        .await?;
        text_over(
            browser,
            ("b", "a"),
            &label,
            &format!("reply over {serialization} — é"),
        )
        .await?;
    }
    // json carries structured values.
    let value = json!({ "n": 1, "list": [true, null, "x"], "nested": { "k": 2.5 } });
    browser
        .eval("a", "send", json!({ "label": "dc-json", "json": value }))
        .await?;
    let got = browser
        .wait_for(
            |e: &Value| ev("data", "b").matches(e) && e["label"] == "dc-json",
            CONNECT,
        )
        .await?;
    ensure!(
        got["kind"] == "json" && got["json"] == value,
        "json value: {got}"
    );

    // 5 MB over `binary` (BinaryPack, chunked by PeerJS), hash-checked on arrival.
    let size = 5 * 1024 * 1024;
    let expected = sha256_hex(&seeded_bytes(size, 7));
    let sent = browser
        .eval(
            "a",
            "sendBytes",
            json!({ "label": "dc-binary", "size": size, "seed": 7 }),
        )
        .await?;
    ensure!(
        sent["sha256"] == expected.as_str(),
        "page and Rust generate the same bytes"
    );
    let got = browser
        .wait_for(
            |e: &Value| ev("data", "b").matches(e) && e["label"] == "dc-binary",
            TRANSFER,
        )
        .await?;
    ensure!(
        got["kind"] == "bytes" && got["size"] == size && got["sha256"] == expected.as_str(),
        "5 MB arrived as {got}"
    );
    let secs =
        (got["perfMs"].as_f64().unwrap_or(0.0) - sent["perfMs"].as_f64().unwrap_or(0.0)) / 1000.0;
    eprintln!("5 MiB over a binary DataConnection: {secs:.2} s");

    // A media call: a calls b with the fake camera, b answers with its own; both render frames.
    browser.eval("a", "call", json!({ "to": b_id })).await?;
    browser
        .wait_for(ev("call", "b").field("peer", json!(a_id)), CONNECT)
        .await?;
    browser
        .wait_for(ev("stream", "a").field("peer", json!(b_id)), CONNECT)
        .await?;
    browser
        .wait_for(ev("stream", "b").field("peer", json!(a_id)), CONNECT)
        .await?;
    for (page, remote) in [("a", &b_id), ("b", &a_id)] {
        let deadline = tokio::time::Instant::now() + CONNECT;
        loop {
            let stats = browser.eval(page, "videoStats", json!({})).await?;
            let s = &stats[remote.as_str()];
            if s["frames"].as_u64().unwrap_or(0) >= 10 && s["videoWidth"].as_u64().unwrap_or(0) > 0
            {
                eprintln!("video on {page}: {s}");
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "no frames rendered on {page}: {stats}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // An id nobody holds: peer-unavailable within the expire timeout + 1 s.
    let nobody = format!("nobody{:08x}", rand::random::<u32>());
    let started = browser
        .eval(
            "a",
            "connect",
            json!({ "to": nobody, "label": "dc-nobody", "serialization": "binary" }),
        )
        .await?;
    let err = browser
        .wait_for(
            ev("peererror", "a"),
            Duration::from_millis(EXPIRE_TIMEOUT_MS + 5000),
        )
        .await?;
    ensure!(err["type"] == "peer-unavailable", "error on a: {err}");
    ensure!(
        err["message"].as_str().is_some_and(|m| m.contains(&nobody)),
        "{err}"
    );
    let delay =
        err["perfMs"].as_f64().unwrap_or(f64::MAX) - started["perfMs"].as_f64().unwrap_or(0.0);
    eprintln!("peer-unavailable after {delay:.0} ms (expire timeout {EXPIRE_TIMEOUT_MS} ms)");
    ensure!(
        delay <= unavailable_within_ms as f64,
        "peer-unavailable took {delay:.0} ms, more than {unavailable_within_ms} ms"
    );

    // A taken id: unavailable-id.
    let taken = create(browser, "c", port, Some(&a_id)).await?;
    ensure!(
        taken["error"]["type"] == "unavailable-id",
        "taken id: {taken}"
    );
    browser.close("c").await?;

    // b's signalling socket drops; reconnect() gets `open` again with the same id, and b is
    // reachable again.
    browser.eval("b", "dropSocket", json!({})).await?;
    browser.wait_for(ev("disconnected", "b"), CONNECT).await?;
    browser.eval("b", "reconnect", json!({})).await?;
    let reopened = browser.wait_for(ev("open", "b"), CONNECT).await?;
    ensure!(
        reopened["peerId"] == b_id.as_str(),
        "reconnected as {reopened}"
    );
    connect(browser, ("a", "b"), &b_id, "dc-after-reconnect", "json").await?;
    text_over(browser, ("a", "b"), "dc-after-reconnect", "after reconnect").await?;

    // a is destroyed; b's connections from a close.
    browser.eval("a", "destroy", json!({})).await?;
    browser
        .wait_for(ev("connclose", "b").field("peer", json!(a_id)), CONNECT)
        .await?;
    // a's id is free on the server again.
    let again = create(browser, "d", port, Some(&a_id)).await?;
    ensure!(
        again["peerId"] == a_id.as_str(),
        "a's id after destroy: {again}"
    );
    Ok(())
}
