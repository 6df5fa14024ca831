//! Rust↔Rust through our server: peers meet, connect, and exchange messages of every size.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use p2pcf_client::SessionId;
use p2pcf_server::ServerConfig;
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::server::TestServer;
use sha2::{Digest, Sha256};

const CONNECT: Duration = Duration::from_secs(30);

fn room() -> String {
    format!("rust-{}", rand::random::<u32>())
}

fn pattern(size: usize, seed: u8) -> Bytes {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect::<Vec<u8>>()
        .into()
}

async fn two_connected(server: &TestServer) -> anyhow::Result<(RustPeer, RustPeer)> {
    let room = room();
    let mut alice = RustPeer::join(&server.url, &room, "alice").await?;
    let mut bob = RustPeer::join(&server.url, &room, "bobby").await?;
    let a = alice.connected(1, CONNECT).await?;
    let b = bob.connected(1, CONNECT).await?;
    assert_eq!((&a[0].0, a[0].1.as_str()), (bob.session_id(), "bobby"));
    assert_eq!((&b[0].0, b[0].1.as_str()), (alice.session_id(), "alice"));
    Ok((alice, bob))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rust_peers_exchange_messages_of_every_size() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let (alice, mut bob) = two_connected(&server).await?;

    // Around the chunking threshold, a short message starting with the chunk magic (a correct
    // sender chunks it), 1 MB, 10 MB and 100 MB.
    let mut magic_start = vec![0xb9, 0x1f];
    magic_start.extend_from_slice(&[7u8; 40]);
    let cases = vec![
        Bytes::from_static(b"hello bob"),
        pattern(16_000, 1),
        pattern(16_001, 2),
        Bytes::from(magic_start),
        pattern(1_000_000, 3),
        pattern(10_000_000, 4),
        pattern(100_000_000, 5),
    ];
    for data in cases {
        let started = Instant::now();
        alice.handle.send(bob.session_id(), data.clone()).await?;
        let (from, got) = bob.message(Duration::from_secs(120)).await?;
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
    alice.handle.leave().await;
    bob.handle.leave().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_peer_is_seen_closed_by_the_other() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let (alice, mut bob) = two_connected(&server).await?;
    alice.handle.leave().await;
    bob.closed(alice.session_id(), Duration::from_secs(20))
        .await?;
    assert!(bob.handle.peers().await?.is_empty());
    let err = alice
        .handle
        .send(bob.session_id(), &b"after leave"[..])
        .await;
    assert!(err.is_err(), "a client that left cannot send");
    bob.handle.leave().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_peers_joining_at_once_all_connect() -> anyhow::Result<()> {
    const N: usize = 10;
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = room();
    let joins = (0..N).map(|i| {
        let (url, room) = (server.url.clone(), room.clone());
        async move { RustPeer::join(&url, &room, &format!("peer-{i}")).await }
    });
    let peers = futures::future::try_join_all(joins).await?;
    let ids: HashSet<SessionId> = peers.iter().map(|p| p.session_id().clone()).collect();
    let waits = peers.into_iter().map(|mut peer| async move {
        let seen = peer.connected(N - 1, Duration::from_secs(60)).await?;
        anyhow::Ok((peer, seen))
    });
    let results = futures::future::try_join_all(waits).await?;
    for (peer, seen) in &results {
        let expected: HashSet<_> = ids
            .iter()
            .filter(|id| *id != peer.session_id())
            .cloned()
            .collect();
        let got: HashSet<_> = seen.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(got, expected);
    }
    for (peer, _) in results {
        peer.handle.leave().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_stun_server_does_not_stall_joining() -> anyhow::Result<()> {
    use p2pcf_client::ClientEvent;
    use p2pcf_proto::IceServer;
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = room();
    let mut options = p2pcf_tests::client::loopback_options(&server.url);
    // A closed port: no STUN answer ever comes.
    options.config.stun_ice_servers = vec![IceServer::new("stun:127.0.0.1:9")];
    let started = Instant::now();
    let mut alice = RustPeer::join_with(&room, "alice", options).await?;
    let deadline = started + Duration::from_secs(10);
    loop {
        if let ClientEvent::Joined { .. } = alice.next_event(deadline, "joined").await? {
            break;
        }
    }
    let took = started.elapsed();
    // The JS client waits out its 5 s probe here; we publish after the quick first probe.
    assert!(took < Duration::from_secs(2), "joined after {took:?}");
    alice.handle.leave().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdp_transform_hook_rewrites_every_local_description() -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = room();
    let calls = Arc::new(AtomicUsize::new(0));
    let with_hook = || {
        let mut options = p2pcf_tests::client::loopback_options(&server.url);
        let calls = Arc::clone(&calls);
        options.rtc.sdp_transform = Some(Arc::new(move |sdp: &str| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert!(sdp.starts_with("v=0"), "a whole SDP is passed");
            // A harmless rewrite: an extra session-level attribute the other side ignores.
            sdp.replacen("s=-\r\n", "s=-\r\na=x-p2pcf-rs:transformed\r\n", 1)
        }));
        options
    };
    let mut alice = RustPeer::join_with(&room, "alice", with_hook()).await?;
    let mut bob = RustPeer::join_with(&room, "bobby", with_hook()).await?;
    alice.connected(1, CONNECT).await?;
    bob.connected(1, CONNECT).await?;
    // One offer (peer B) and one answer (peer A), each through the hook.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    alice
        .handle
        .send(bob.session_id(), &b"still talking"[..])
        .await?;
    let (_, got) = bob.message(Duration::from_secs(10)).await?;
    assert_eq!(&got[..], b"still talking");
    alice.handle.leave().await;
    bob.handle.leave().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_p2pcf_chunk_limit_is_refused_with_a_clear_error() -> anyhow::Result<()>
{
    use p2pcf_client::ClientError;
    use p2pcf_proto::chunk::MAX_WIRE_MESSAGE_LEN;
    let server = TestServer::start(ServerConfig::default()).await?;
    let (alice, bob) = two_connected(&server).await?;
    // calloc'd and never touched: cheap despite its size.
    let over = Bytes::from(vec![0u8; MAX_WIRE_MESSAGE_LEN + 1]);
    match alice.handle.send(bob.session_id(), over.clone()).await {
        Err(ClientError::TooLarge { size, max }) => {
            assert_eq!(
                (size, max),
                (MAX_WIRE_MESSAGE_LEN + 1, MAX_WIRE_MESSAGE_LEN)
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        alice.handle.broadcast(over).await,
        Err(ClientError::TooLarge { .. })
    ));
    alice.handle.leave().await;
    bob.handle.leave().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_pauses_the_sender_instead_of_growing_memory() -> anyhow::Result<()> {
    use p2pcf_client::rtc::ReceiveBudget;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const MESSAGE: usize = 1_000_000;
    const COUNT: usize = 40;
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = room();
    let budget = ReceiveBudget::new(4 * 1024 * 1024);
    let mut options = p2pcf_tests::client::loopback_options(&server.url);
    options.rtc.receive_budget = Some(Arc::clone(&budget));
    let mut alice = RustPeer::join(&server.url, &room, "alice").await?;
    let mut bob = RustPeer::join_with(&room, "bobby", options).await?;
    alice.connected(1, CONNECT).await?;
    bob.connected(1, CONNECT).await?;

    // Alice sends 40 MB as fast as `send` lets her; Bob reads nothing for a while.
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (handle, to, sent) = (
            alice.handle.clone(),
            bob.session_id().clone(),
            Arc::clone(&sent),
        );
        tokio::spawn(async move {
            for i in 0..COUNT {
                handle.send(&to, pattern(MESSAGE, i as u8)).await?;
                sent.fetch_add(1, Ordering::SeqCst);
            }
            anyhow::Ok(())
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stalled_at = sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = sent.load(Ordering::SeqCst);
    eprintln!(
        "sent while Bob did not read: {stalled_at} then {later} messages; Bob holds {} bytes",
        budget.used()
    );
    assert_eq!(stalled_at, later, "the sender kept going while nobody read");
    // In flight besides Bob's budget (4 MiB + one message): webrtc-rs's per-channel delivery
    // queue (256 messages of 16000 bytes ≈ 4.1 MB), the SCTP receive window (1 MiB), Alice's
    // send high-water mark (1 MiB) and one message being reassembled: ≈ 12.4 MB.
    assert!(
        later < 17,
        "{later} MB handed over to a reader that reads nothing"
    );
    assert!(
        budget.used() <= budget.limit() + 2 * MESSAGE,
        "the reader holds {} bytes",
        budget.used()
    );

    // Bob reads: everything arrives, intact and in order; the sender finishes.
    for i in 0..COUNT {
        let (from, data) = bob.message(Duration::from_secs(60)).await?;
        assert_eq!(&from, alice.session_id());
        assert_eq!(data, pattern(MESSAGE, i as u8), "message {i}");
    }
    sender.await??;
    assert_eq!(sent.load(Ordering::SeqCst), COUNT);
    Ok(())
}
