//! 100 MB Rust→Rust through the client over a link that drops 2 % of UDP datagrams at random,
//! with the large UDP receive buffer the client requests and with the request capped at stock
//! Linux's 212992 bytes. Both peers and our server run in a network namespace the test creates
//! (and removes) with an nftables drop rule; the transfer is 1000 messages of 100 kB (so progress
//! is seen every few tens of milliseconds), hash-checked, and no gap between two delivered
//! messages (nor before the first) may exceed 1 s — SCTP loss recovery
//! (vendor/rtc-sctp/PATCHES.md) must not stall on retransmission timeouts.
//!
//! Skipped, with a message, only where a network namespace cannot be created (no root).

use std::time::{Duration, Instant};

use bytes::Bytes;
use p2pcf_client::rtc::{DEFAULT_UDP_RECEIVE_BUFFER, STOCK_LINUX_UDP_RECEIVE_BUFFER};
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::seeded_bytes;
use p2pcf_tests::client::{loopback_options, RustPeer};
use p2pcf_tests::netns::LossyNetns;
use p2pcf_tests::server::TestServer;
use sha2::{Digest, Sha256};

/// Set in the re-executed child to the name of the test it runs inside the namespace.
const CHILD: &str = "P2PCF_LOSSY_LINK_CHILD";
const LOSS_PER_MILLE: u32 = 20;
const MESSAGES: u32 = 1000;
const MESSAGE_SIZE: usize = 100_000;
const MAX_GAP: Duration = Duration::from_secs(1);
const CONNECT: Duration = Duration::from_secs(30);
const TRANSFER: Duration = Duration::from_secs(120);

#[test]
fn lossy_2pct_100mb_large_buffer() -> anyhow::Result<()> {
    case("lossy_2pct_100mb_large_buffer", DEFAULT_UDP_RECEIVE_BUFFER)
}

#[test]
fn lossy_2pct_100mb_stock_buffer() -> anyhow::Result<()> {
    case(
        "lossy_2pct_100mb_stock_buffer",
        STOCK_LINUX_UDP_RECEIVE_BUFFER,
    )
}

fn case(name: &str, receive_buffer: usize) -> anyhow::Result<()> {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        return tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(transfer(receive_buffer));
    }
    // Named after the test: `cargo test` runs both in one process, in parallel.
    let ns = match LossyNetns::create(name, LOSS_PER_MILLE) {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!(
                "SKIPPED {name}: cannot create a network namespace with a lossy loopback \
                 (needs root, iproute2 and nftables): {:#}",
                e.0
            );
            return Ok(());
        }
    };
    let status = ns.run_test(name, CHILD, name)?;
    anyhow::ensure!(
        status.success(),
        "{name} failed inside network namespace {} ({status})",
        ns.name()
    );
    Ok(())
}

/// Runs inside the namespace: server, two clients, 1000 × 100 kB alice → bob.
async fn transfer(receive_buffer: usize) -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = format!("lossy-{}", rand::random::<u32>());
    let mut options = loopback_options(&server.url);
    options.rtc.udp_receive_buffer = receive_buffer;
    let mut alice = RustPeer::join_with(&room, "alice", options.clone()).await?;
    let mut bob = RustPeer::join_with(&room, "bobby", options).await?;
    alice.connected(1, CONNECT).await?;
    bob.connected(1, CONNECT).await?;

    let to = bob.session_id().clone();
    let handle = alice.handle.clone();
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut expected = Sha256::new();
        for seed in 1..=MESSAGES {
            let data = Bytes::from(seeded_bytes(MESSAGE_SIZE, seed));
            expected.update(&data);
            handle.send(&to, data).await?;
        }
        anyhow::Ok(expected.finalize())
    });

    let mut got = Sha256::new();
    let mut last = started;
    let mut max_gap = Duration::ZERO;
    let mut gap_at = 0;
    let deadline = started + TRANSFER;
    for n in 0..MESSAGES {
        let left = deadline.saturating_duration_since(Instant::now());
        let (from, data) = bob.message(left).await?;
        anyhow::ensure!(&from == alice.session_id(), "message from a stranger");
        anyhow::ensure!(
            data.len() == MESSAGE_SIZE,
            "message {n}: {} bytes",
            data.len()
        );
        let now = Instant::now();
        if now - last > max_gap {
            max_gap = now - last;
            gap_at = n;
        }
        last = now;
        got.update(&data);
    }
    let secs = started.elapsed().as_secs_f64();
    let expected = sender.await??;
    anyhow::ensure!(got.finalize() == expected, "100 MB arrived corrupted");
    println!(
        "lossy link ({} % UDP loss, receive buffer requested {receive_buffer}): 100 MB in \
         {secs:.1} s = {:.1} MB/s, longest wait for a 100 kB message {} ms (message {gap_at})",
        LOSS_PER_MILLE as f64 / 10.0,
        100.0 / secs,
        max_gap.as_millis()
    );
    anyhow::ensure!(
        max_gap <= MAX_GAP,
        "no progress for {} ms (before message {gap_at}); limit {} ms",
        max_gap.as_millis(),
        MAX_GAP.as_millis()
    );
    alice.handle.leave().await;
    bob.handle.leave().await;
    server.stop().await?;
    Ok(())
}
