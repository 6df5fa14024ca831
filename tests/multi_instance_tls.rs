//! The documented nginx recipe (`packaging/nginx-p2pcf.conf`, run as is but for its ports and
//! certificate paths) with TLS in front of a `p2pcf serve` process, reached over `https://` by
//! a client that trusts only the test's self-signed certificate: the P2PCF API (publish, poll,
//! packages, leave, CORS preflight), a long poll woken through the proxy, and PeerJS WebSockets
//! over `wss://` (the upgrade).

#[path = "conformance/fixtures.rs"]
mod fixtures;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use fixtures::{now_ms, room_id, seen_sessions, Peer};
use p2pcf_tests::cluster::{Instance, WorkDir};
use p2pcf_tests::cluster_proxy::{Certificate, Nginx};
use serde_json::{json, Value};

/// A client whose only trusted root is `cert` (no system roots, https only).
fn tls_client(cert: &Certificate) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert.pem)?)
        .tls_built_in_root_certs(false)
        .https_only(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// POSTs a P2PCF body; returns status, `X-P2PCF-Version` and the JSON answer.
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    headers: &[(&str, String)],
) -> anyhow::Result<(u16, Option<u64>, Value)> {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        req = req.header(*name, value.as_str());
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let version = res
        .headers()
        .get("x-p2pcf-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let text = res.text().await?;
    let json = serde_json::from_str(&text).with_context(|| format!("{status} answer {text:?}"))?;
    Ok((status, version, json))
}

struct Front {
    nginx: Nginx,
    cert: Certificate,
    _instance: Instance,
    _dir: WorkDir,
}

async fn start() -> anyhow::Result<Front> {
    let dir = WorkDir::new("tls")?;
    let cert = Certificate::generate(&dir)?;
    let instance = Instance::start(&dir, "p2pcf", &["--store", "memory"]).await?;
    let nginx = Nginx::start(&dir, &[instance.addr], &cert).await?;
    Ok(Front {
        nginx,
        cert,
        _instance: instance,
        _dir: dir,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2pcf_api_over_https_through_the_nginx_recipe() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let front = start().await?;
    let client = tls_client(&front.cert)?;
    let url = front.nginx.url.as_str();

    // TLS is real: a client with the system roots only refuses the self-signed certificate.
    let untrusting = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    ensure!(
        untrusting.get(url).send().await.is_err(),
        "an unknown certificate was accepted"
    );

    // The health page, served by our server through the proxy.
    let res = client.get(format!("{url}/")).send().await?;
    ensure!(res.status() == 200, "GET / answered {}", res.status());
    let text = res.text().await?;
    ensure!(text.contains("Hello from P2PCF"), "health page: {text}");

    // The CORS preflight the browser sends before its first poll.
    let res = client
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await?;
    ensure!(res.status() == 200, "preflight answered {}", res.status());
    let allow = res.headers().get("access-control-allow-origin").cloned();
    ensure!(
        allow.as_ref().is_some_and(|v| v == "*"),
        "preflight allow-origin {allow:?}"
    );

    // Two peers meet: bob sees alice, alice gets bob's package for her, both leave.
    let room = room_id("tls");
    let (alice, bob) = (Peer::new("alice"), Peer::new("bob"));
    let t = now_ms();
    let (status, _, answer) = post(&client, url, &alice.publish(&room, t, json!([])), &[]).await?;
    ensure!(
        status == 200 && answer["ps"] == json!([]),
        "alice: {status} {answer}"
    );
    let alice_dk = answer["dk"].as_str().context("alice's dk")?.to_owned();
    let package = bob.package_for(&alice, t);
    let (status, _, answer) = post(
        &client,
        url,
        &bob.publish(&room, t, json!([package.clone()])),
        &[],
    )
    .await?;
    ensure!(status == 200, "bob: {status} {answer}");
    ensure!(
        seen_sessions(&answer) == vec![alice.session.clone()],
        "bob sees {answer}"
    );
    let bob_dk = answer["dk"].as_str().context("bob's dk")?.to_owned();
    let (status, _, answer) = post(&client, url, &alice.poll(&room, t), &[]).await?;
    ensure!(status == 200, "alice poll: {status} {answer}");
    ensure!(
        seen_sessions(&answer) == vec![bob.session.clone()],
        "alice sees {answer}"
    );
    ensure!(
        answer["pk"] == json!([package]),
        "alice's packages: {answer}"
    );

    for (peer, dk) in [(&alice, &alice_dk), (&bob, &bob_dk)] {
        let (status, _, answer) = post(
            &client,
            url,
            &peer.leave(&room, t, dk),
            &[("x-worker-method", "DELETE".into())],
        )
        .await?;
        ensure!(
            status == 200 && answer == json!({}),
            "leave: {status} {answer}"
        );
    }
    let (_, _, answer) = post(&client, url, &Peer::new("carol").read(&room), &[]).await?;
    ensure!(answer["ps"] == json!([]), "room after leaving: {answer}");
    Ok(())
}

/// A poll held by the server (our long-poll extension) passes through nginx unbuffered and
/// returns as soon as another peer changes the room — not at the end of its wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_through_the_nginx_recipe() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let front = start().await?;
    let client = tls_client(&front.cert)?;
    let url = front.nginx.url.clone();
    let room = room_id("tlswait");
    let (alice, bob) = (Peer::new("alice"), Peer::new("bob"));
    let t = now_ms();
    post(&client, &url, &alice.publish(&room, t, json!([])), &[]).await?;
    // The version of the room as it is now (a publish answers with the one before its write).
    let (_, version, _) = post(&client, &url, &alice.poll(&room, t), &[]).await?;
    let version = version.context("no X-P2PCF-Version from our server")?;

    let held = {
        let (client, url, room, alice) = (client.clone(), url.clone(), room.clone(), alice.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let headers = [
                ("x-p2pcf-wait", "20000".to_owned()),
                ("x-p2pcf-since", version.to_string()),
            ];
            let answer = post(&client, &url, &alice.poll(&room, t), &headers).await;
            (started.elapsed(), answer)
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    ensure!(!held.is_finished(), "the poll was not held");
    let written = Instant::now();
    post(&client, &url, &bob.publish(&room, t, json!([])), &[]).await?;
    let (took, answer) = held.await?;
    let (status, new_version, answer) = answer?;
    let woke_after = written.elapsed();
    println!(
        "long poll through nginx: held {took:?}, answered {woke_after:?} after the other peer's write"
    );
    ensure!(status == 200, "held poll: {status} {answer}");
    ensure!(
        seen_sessions(&answer) == vec![bob.session.clone()],
        "held poll sees {answer}"
    );
    ensure!(
        new_version.is_some_and(|v| v != version),
        "version {new_version:?} after a change from {version}"
    );
    ensure!(
        woke_after < Duration::from_secs(3),
        "the held poll answered {woke_after:?} after the change (its wait was 20 s)"
    );
    Ok(())
}

/// Opens a WebSocket with `client` (HTTP/1.1 upgrade, checked `Sec-WebSocket-Accept`) and
/// returns it after its first frame, which must be PeerJS's `OPEN`.
async fn wss_open(
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<tokio_tungstenite::WebSocketStream<reqwest::Upgraded>> {
    use base64::Engine;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;

    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let res = client
        .get(url)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", &key)
        .send()
        .await?;
    ensure!(
        res.status() == 101,
        "upgrade answered {}: {:?}",
        res.status(),
        res.headers()
    );
    let accept = res.headers().get("sec-websocket-accept").cloned();
    ensure!(
        accept.as_ref().and_then(|v| v.to_str().ok()) == Some(&derive_accept_key(key.as_bytes())),
        "Sec-WebSocket-Accept {accept:?}"
    );
    let upgraded = res.upgrade().await?;
    let mut ws =
        tokio_tungstenite::WebSocketStream::from_raw_socket(upgraded, Role::Client, None).await;
    let open = next_text(&mut ws).await?;
    ensure!(open.contains("\"OPEN\""), "first frame {open}");
    Ok(ws)
}

async fn next_text(
    ws: &mut tokio_tungstenite::WebSocketStream<reqwest::Upgraded>,
) -> anyhow::Result<String> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => Ok(text.to_string()),
        other => anyhow::bail!("expected a text frame, got {other:?}"),
    }
}

/// The recipe's WebSocket upgrade: two PeerJS signalling sockets over `wss://` through nginx
/// each get the server's `OPEN`, and an `OFFER` sent on one arrives on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_over_wss_through_the_nginx_recipe() -> anyhow::Result<()> {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    p2pcf_tests::init_logging();
    let front = start().await?;
    let client = tls_client(&front.cert)?;
    let tag = rand::random::<u32>();
    let (alice, bob) = (format!("alice-{tag:08x}"), format!("bob-{tag:08x}"));
    let url = |id: &str| {
        format!(
            "{}/peerjs/peerjs?key=peerjs&id={id}&token=t-{id}",
            front.nginx.url
        )
    };
    let mut a = wss_open(&client, &url(&alice)).await?;
    let mut b = wss_open(&client, &url(&bob)).await?;
    let offer = json!({"type": "OFFER", "dst": bob, "payload": {"sdp": "over wss"}});
    a.send(Message::Text(offer.to_string().into())).await?;
    let got: Value = serde_json::from_str(&next_text(&mut b).await?)?;
    ensure!(
        got["type"] == "OFFER"
            && got["src"] == alice.as_str()
            && got["payload"]["sdp"] == "over wss",
        "bob got {got}"
    );
    Ok(())
}
