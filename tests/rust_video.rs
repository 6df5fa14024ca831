//! Rust→Rust video through our server: the stamped test pattern is encoded to H.264, shared
//! with `add_track`, decoded at the receiver, and every decoded frame carries the right frame
//! number (in order, none repeated) and a capture time from the sender.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use p2pcf_client::ClientEvent;
use p2pcf_media::{read_stamp, unix_time_us, TestPattern};
use p2pcf_server::ServerConfig;
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::server::TestServer;
use p2pcf_video::{ReceiverEvent, SendSettings, VideoReceiver, VideoSender};
use tokio::sync::mpsc;

const CONNECT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_pattern_is_decoded_at_the_receiver_with_the_right_frame_numbers(
) -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let room = format!("video-{}", rand::random::<u32>());
    let mut alice = RustPeer::join(&server.url, &room, "alice").await?;
    let mut bob = RustPeer::join(&server.url, &room, "bobby").await?;
    alice.connected(1, CONNECT).await?;
    bob.connected(1, CONNECT).await?;

    let pattern = TestPattern::new(640, 480)?;
    let sender = VideoSender::start("pattern", Box::new(pattern), SendSettings::default())?;
    alice.handle.add_track(sender.track()).await?;

    // Alice forwards key-frame requests to her encoder, as the app and the CLI do.
    let (keyframes_tx, mut keyframes) = mpsc::unbounded_channel();
    let alice_events = tokio::spawn(async move {
        while let Some(event) = alice.events.recv().await {
            if let ClientEvent::KeyframeRequested { .. } = event {
                let _ = keyframes_tx.send(());
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(20);
    let track = loop {
        if let ClientEvent::TrackStarted { track, .. } = bob.next_event(deadline, "a track").await?
        {
            break track;
        }
    };
    let (frames_tx, mut frames) = mpsc::channel(64);
    let receiver = VideoReceiver::start(track, frames_tx);

    let mut numbers = Vec::new();
    let mut latencies = Vec::new();
    while numbers.len() < 90 {
        tokio::select! {
            Some(()) = keyframes.recv() => sender.request_keyframe(),
            event = tokio::time::timeout(Duration::from_secs(10), frames.recv()) => {
                match event.context("no decoded frame for 10 s")? {
                    Some(ReceiverEvent::Frame(frame)) => {
                        assert_eq!((frame.width, frame.height), (640, 480));
                        let stamp = read_stamp(&frame.rgba, frame.width, frame.height)
                            .context("a decoded frame without a readable stamp")?;
                        latencies.push(unix_time_us().saturating_sub(stamp.capture_time_us));
                        numbers.push(stamp.frame_number);
                    }
                    Some(ReceiverEvent::Ended) | None => bail!("the track ended early"),
                }
            }
        }
    }
    // In order, none twice; a frame may be skipped only before the first key frame arrived.
    assert!(numbers.windows(2).all(|w| w[1] > w[0]), "{numbers:?}");
    let span = numbers[numbers.len() - 1] - numbers[0] + 1;
    assert!(
        span as usize <= numbers.len() + 3,
        "frames lost mid-stream: {numbers:?} ({:?})",
        receiver.stats()
    );
    latencies.sort_unstable();
    let median_ms = latencies[latencies.len() / 2] as f64 / 1000.0;
    eprintln!("90 frames, median capture→decode {median_ms:.1} ms");
    assert!(median_ms < 1000.0, "median latency {median_ms} ms");
    // Decode errors can happen before the first key frame (the track may join the stream on a
    // P-frame); the frame numbers above show the stream itself is intact.
    let stats = receiver.stats();
    eprintln!("receiver: {stats:?}");
    assert!(stats.frames >= 90, "{stats:?}");
    let sent = sender.stop();
    assert!(sent.frames >= 90 && sent.keyframes >= 1, "{sent:?}");
    alice_events.abort();
    Ok(())
}
