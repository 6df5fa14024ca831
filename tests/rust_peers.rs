//! Rust↔Rust through our server: peers meet, connect, and exchange messages of every size.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use p2pcf_client::rtc::RtcOptions;
use p2pcf_client::{join, ClientEvent, ClientHandle, JoinOptions, SessionId};
use p2pcf_server::ServerConfig;
use p2pcf_tests::server::TestServer;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedReceiver;

fn options(worker: &str) -> JoinOptions {
    let mut options = JoinOptions {
        rtc: RtcOptions::loopback_only(),
        ..JoinOptions::default()
    };
    options.config.worker_url = worker.to_string();
    options.config.stun_ice_servers = vec![];
    options.config.turn_ice_servers = vec![];
    options
}

fn room() -> String {
    format!("rust-{}", rand::random::<u32>())
}

async fn next_event(
    events: &mut UnboundedReceiver<ClientEvent>,
    deadline: Instant,
    what: &str,
) -> anyhow::Result<ClientEvent> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, events.recv()).await {
        Ok(Some(event)) => Ok(event),
        Ok(None) => bail!("event stream ended while waiting for {what}"),
        Err(_) => bail!("timed out waiting for {what}"),
    }
}

/// Waits until `count` distinct peers connected; returns their session ids.
async fn connected_peers(
    events: &mut UnboundedReceiver<ClientEvent>,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<SessionId>> {
    let deadline = Instant::now() + timeout;
    let mut peers = Vec::new();
    while peers.len() < count {
        if let ClientEvent::PeerConnected { session_id, .. } =
            next_event(events, deadline, "peer connections").await?
        {
            if !peers.contains(&session_id) {
                peers.push(session_id);
            }
        }
    }
    Ok(peers)
}

async fn next_message(
    events: &mut UnboundedReceiver<ClientEvent>,
    timeout: Duration,
) -> anyhow::Result<(SessionId, Bytes)> {
    let deadline = Instant::now() + timeout;
    loop {
        if let ClientEvent::Message { from, data } =
            next_event(events, deadline, "a message").await?
        {
            return Ok((from, data));
        }
    }
}

fn pattern(size: usize, seed: u8) -> Bytes {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect::<Vec<u8>>()
        .into()
}

async fn two_connected(
    server: &TestServer,
) -> anyhow::Result<(
    (ClientHandle, UnboundedReceiver<ClientEvent>),
    (ClientHandle, UnboundedReceiver<ClientEvent>),
)> {
    let room = room();
    let (alice, mut alice_events) = join(&room, "alice", options(&server.url)).await?;
    let (bob, mut bob_events) = join(&room, "bobby", options(&server.url)).await?;
    let a = connected_peers(&mut alice_events, 1, Duration::from_secs(20)).await?;
    let b = connected_peers(&mut bob_events, 1, Duration::from_secs(20)).await?;
    assert_eq!(&a[0], bob.session_id());
    assert_eq!(&b[0], alice.session_id());
    Ok(((alice, alice_events), (bob, bob_events)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rust_peers_connect_and_exchange_messages_of_every_size() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let ((alice, _alice_events), (bob, mut bob_events)) = two_connected(&server).await?;

    // Sizes around the chunking threshold, a message starting with the chunk magic, 1 MB, 10 MB.
    let magic_start = {
        let mut m = vec![0xb9, 0x1f];
        m.extend_from_slice(&[7u8; 40]);
        Bytes::from(m)
    };
    let cases = vec![
        Bytes::from_static(b"hello bob"),
        pattern(16_000, 1),
        pattern(16_001, 2),
        magic_start,
        pattern(1_000_000, 3),
        pattern(10_000_000, 4),
    ];
    for data in cases {
        let started = Instant::now();
        alice.send(bob.session_id(), data.clone()).await?;
        let (from, got) = next_message(&mut bob_events, Duration::from_secs(60)).await?;
        assert_eq!(&from, alice.session_id());
        assert_eq!(got.len(), data.len());
        assert_eq!(
            Sha256::digest(&got),
            Sha256::digest(&data),
            "{} bytes",
            data.len()
        );
        eprintln!("{} bytes in {:?}", data.len(), started.elapsed());
    }
    alice.leave().await;
    bob.leave().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_peer_is_seen_closed_by_the_other() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let ((alice, _alice_events), (bob, mut bob_events)) = two_connected(&server).await?;
    alice.leave().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let ClientEvent::PeerClosed { session_id, .. } =
            next_event(&mut bob_events, deadline, "the peer to close").await?
        {
            assert_eq!(&session_id, alice.session_id());
            break;
        }
    }
    assert!(bob.peers().await?.is_empty());
    bob.leave().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_peers_joining_at_once_all_connect() -> anyhow::Result<()> {
    const N: usize = 10;
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = room();
    let joins = (0..N).map(|i| {
        let room = room.clone();
        let url = server.url.clone();
        async move { join(&room, &format!("peer-{i}"), options(&url)).await }
    });
    let clients = futures::future::try_join_all(joins).await?;
    let ids: HashSet<SessionId> = clients
        .iter()
        .map(|(c, _)| c.session_id().clone())
        .collect();
    let waits = clients.into_iter().map(|(client, mut events)| async move {
        let peers = connected_peers(&mut events, N - 1, Duration::from_secs(60))
            .await
            .with_context(|| format!("peer {}", client.session_id()))?;
        anyhow::Ok((client, peers))
    });
    let results = futures::future::try_join_all(waits).await?;
    for (client, peers) in &results {
        let expected: HashSet<_> = ids
            .iter()
            .filter(|id| *id != client.session_id())
            .cloned()
            .collect();
        assert_eq!(peers.iter().cloned().collect::<HashSet<_>>(), expected);
    }
    for (client, _) in results {
        client.leave().await;
    }
    Ok(())
}
