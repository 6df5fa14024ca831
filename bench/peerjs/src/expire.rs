//! (c) Peer-unavailable delay: a client sends an `OFFER` to an id nobody holds and times how long
//! the `EXPIRE` for that id takes (what the PeerJS client turns into `peer-unavailable`). The
//! samples start staggered so they fall at different points of the server's expiry sweep.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::hold::{open_client, source};
use crate::servers::Server;
use crate::ws;

/// The delays (sorted) and the failed samples' errors.
pub type ExpireResult = (Vec<Duration>, Vec<String>);

const STAGGER: Duration = Duration::from_millis(370);
const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Deserialize)]
struct Msg {
    #[serde(rename = "type")]
    kind: String,
    src: Option<String>,
}

async fn sample(server: std::net::SocketAddr, i: usize, octet: u8) -> anyhow::Result<Duration> {
    tokio::time::sleep(STAGGER * i as u32).await;
    let tag = rand::random::<u32>();
    let (id, nobody) = (format!("e{tag:08x}s{i}"), format!("nobody{tag:08x}x{i}"));
    let token = format!("t{:x}", rand::random::<u64>());
    let (mut stream, mut reader) = open_client(source(octet, i), server, &id, &token).await?;
    let offer = format!(
        r#"{{"type":"OFFER","dst":"{nobody}","payload":{{"sdp":{{"type":"offer","sdp":"v=0\r\n"}},"type":"data","connectionId":"dc_{tag:x}","label":"dc_{tag:x}","metadata":null,"reliable":true,"serialization":"binary"}}}}"#
    );
    let mut frame = Vec::new();
    ws::encode_text(&mut frame, offer.as_bytes());
    let sent = Instant::now();
    stream.write_all(&frame).await.context("send OFFER")?;
    loop {
        let text = tokio::time::timeout_at((sent + TIMEOUT).into(), reader.next_text(&mut stream))
            .await
            .with_context(|| format!("no EXPIRE within {} s", TIMEOUT.as_secs()))??;
        let msg: Msg = serde_json::from_slice(&text)
            .with_context(|| format!("bad frame {}", String::from_utf8_lossy(&text)))?;
        match (msg.kind.as_str(), msg.src.as_deref()) {
            ("EXPIRE", Some(src)) if src == nobody => return Ok(sent.elapsed()),
            ("HEARTBEAT", _) => {}
            _ => bail!("unexpected frame {}", String::from_utf8_lossy(&text)),
        }
    }
}

/// `samples` delays (sorted) and the failures.
pub async fn run(server: &mut Server, samples: usize, octet: u8) -> anyhow::Result<ExpireResult> {
    let tasks: Vec<_> = (0..samples)
        .map(|i| tokio::spawn(sample(server.addr, i, octet)))
        .collect();
    let mut delays = Vec::new();
    let mut failures = Vec::new();
    for task in tasks {
        match task.await? {
            Ok(d) => delays.push(d),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    delays.sort();
    server.check_alive()?;
    Ok((delays, failures))
}
