//! Rust↔Rust media through our server: a shared track is renegotiated over the data channel
//! (simple-peer's signals), arrives at the other side, reaches peers that connect later, and
//! ends when it is removed. The payload is a numbered fake NAL unit, so the test sees exactly
//! which samples arrived without depending on a codec.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use p2pcf_client::{ClientEvent, LocalTrack, RemoteTrack, SessionId};
use p2pcf_server::ServerConfig;
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::server::TestServer;
use tokio::task::JoinHandle;

const CONNECT: Duration = Duration::from_secs(30);
const MEDIA: Duration = Duration::from_secs(20);

fn room() -> String {
    format!("media-{}", rand::random::<u32>())
}

/// A track that sends one small numbered "IDR slice" every 20 ms until aborted.
fn numbered_track(id: &str) -> (LocalTrack, JoinHandle<()>) {
    let track = LocalTrack::h264(id, format!("stream-{id}"));
    let writer = track.clone();
    let tag = id.as_bytes().to_vec();
    let task = tokio::spawn(async move {
        for n in 0u32.. {
            let mut nal = vec![0, 0, 0, 1, 0x65];
            // Decimal digits: no zero bytes, which the packetizer would read as start codes.
            nal.extend_from_slice(format!("{n:08}").as_bytes());
            nal.extend_from_slice(&tag);
            // Skips peers not negotiated yet.
            writer
                .write_sample(Bytes::from(nal), Duration::from_millis(20))
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (track, task)
}

/// Waits for a track from `from`.
async fn track_from(peer: &mut RustPeer, from: &SessionId) -> anyhow::Result<RemoteTrack> {
    let deadline = Instant::now() + MEDIA;
    loop {
        if let ClientEvent::TrackStarted {
            from: sender,
            track,
        } = peer.next_event(deadline, "a remote track").await?
        {
            if &sender == from {
                return Ok(track);
            }
        }
    }
}

/// Reads RTP until `count` numbered samples tagged `tag` arrived in increasing order.
async fn numbered_samples(track: &RemoteTrack, tag: &str, count: usize) -> anyhow::Result<()> {
    let mut last: Option<u32> = None;
    let mut seen = 0;
    let deadline = Instant::now() + MEDIA;
    while seen < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let packet = tokio::time::timeout(left, track.read_rtp())
            .await
            .context("timed out reading RTP")?
            .context("the track ended")?;
        let payload = &packet.payload;
        // Single NAL unit packets: the NAL itself (0x65 + 8 digits + tag).
        if payload.len() != 9 + tag.len() || payload[0] != 0x65 {
            bail!("unexpected RTP payload {payload:02x?}");
        }
        assert_eq!(&payload[9..], tag.as_bytes(), "the sample of another track");
        let n: u32 = std::str::from_utf8(&payload[1..9])?.parse()?;
        if let Some(prev) = last {
            assert!(n > prev, "sample {n} after {prev}");
        }
        last = Some(n);
        seen += 1;
    }
    Ok(())
}

/// Reads until the track ends, within `timeout`.
async fn ends(track: &RemoteTrack, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, track.read_rtp()).await {
            Err(_) => bail!("the removed track kept going for {timeout:?}"),
            Ok(None) => return Ok(()),
            Ok(Some(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracks_shared_by_either_side_arrive_and_end_when_removed() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = room();
    let mut alice = RustPeer::join(&server.url, &room, "alice").await?;
    let mut bob = RustPeer::join(&server.url, &room, "bobby").await?;
    alice.connected(1, CONNECT).await?;
    bob.connected(1, CONNECT).await?;

    // One side is P2PCF's initiator (it offers), the other must ask with `renegotiate` and a
    // `transceiverRequest`: sharing from both sides covers both paths.
    let (track_a, send_a) = numbered_track("cam-a");
    alice.handle.add_track(track_a).await?;
    let from_alice = track_from(&mut bob, alice.session_id()).await?;
    numbered_samples(&from_alice, "cam-a", 20).await?;

    let (track_b, send_b) = numbered_track("cam-b");
    bob.handle.add_track(track_b).await?;
    let from_bob = track_from(&mut alice, bob.session_id()).await?;
    numbered_samples(&from_bob, "cam-b", 20).await?;
    // Alice's track still flows after the second renegotiation.
    numbered_samples(&from_alice, "cam-a", 5).await?;

    alice.handle.remove_track("cam-a").await?;
    ends(&from_alice, MEDIA).await?;
    numbered_samples(&from_bob, "cam-b", 5).await?;

    // Sharing again, even under the same id, works (a new transceiver each time).
    send_a.abort();
    let (track_a, send_a) = numbered_track("cam-a");
    alice.handle.add_track(track_a).await?;
    let again = track_from(&mut bob, alice.session_id()).await?;
    numbered_samples(&again, "cam-a", 10).await?;
    alice.handle.remove_track("cam-a").await?;
    ends(&again, MEDIA).await?;

    let err = alice
        .handle
        .remove_track("cam-a")
        .await
        .expect_err("the track is no longer shared");
    assert!(err.to_string().contains("no shared track"), "{err}");
    send_a.abort();
    send_b.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_connects_later_receives_the_shared_track() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = room();
    let alice = RustPeer::join(&server.url, &room, "alice").await?;
    let (track, sending) = numbered_track("early");
    alice.handle.add_track(track).await?;

    for name in ["bobby", "carol"] {
        let mut late = RustPeer::join(&server.url, &room, name).await?;
        late.connected(1, CONNECT).await?;
        let from_alice = track_from(&mut late, alice.session_id()).await?;
        numbered_samples(&from_alice, "early", 10).await?;
    }
    sending.abort();
    Ok(())
}
