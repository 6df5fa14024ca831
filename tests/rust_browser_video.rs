//! Video between our Rust client and unmodified JS P2PCF (npm `p2pcf@1.3.14`) in headless
//! Chromium, through our server:
//! - Rust → browser: the stamped test pattern arrives as a P2PCF `track`, renders
//!   (`videoWidth`, `requestVideoFrameCallback` count), and the stamp read back from the page's
//!   picture carries advancing frame numbers; a page joining later gets the video too;
//! - browser → Rust: Chromium's fake camera (`peer.addStream`, as P2PCF's example does) is
//!   decoded by Rust; stopping it ends the Rust side's track.
//!
//! The camera/pattern exchange also runs through the real `worker.js` under miniflare.
//!
//! P2PCF makes the earlier joiner the initiator (peer B), so both renegotiation paths run against
//! real tiny-simple-peer: towards the page that joined first, Rust is the non-initiator and asks
//! with `renegotiate` + `transceiverRequest`, then answers Chromium's offer; towards the page that
//! joins later, and in the camera test, Rust is the initiator and offers.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use p2pcf_client::ClientEvent;
use p2pcf_media::{read_stamp, TestPattern};
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{ev, BrowserPeers, SnapshotRequest};
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::server::TestServer;
use p2pcf_tests::worker::RealWorker;
use p2pcf_video::{ReceiverEvent, SendSettings, VideoReceiver, VideoSender};
use tokio::sync::mpsc;

const CONNECT: Duration = Duration::from_secs(60);
const VIDEO: Duration = Duration::from_secs(30);

fn room() -> String {
    format!("rbvideo-{:08x}", rand::random::<u32>())
}

/// The stamp in a page's snapshot (grey luma → RGBA for `read_stamp`).
async fn page_stamp(browser: &mut BrowserPeers, page: &str, peer: &str) -> anyhow::Result<u32> {
    let request = SnapshotRequest {
        width: 640,
        ..SnapshotRequest::default()
    };
    let shot = browser.snapshot(page, peer, &request).await?;
    let rgba: Vec<u8> = shot.luma.iter().flat_map(|&l| [l, l, l, 255]).collect();
    let stamp = read_stamp(&rgba, shot.width, shot.height).with_context(|| {
        format!(
            "no readable stamp in a {}x{} snapshot",
            shot.width, shot.height
        )
    })?;
    Ok(stamp.frame_number)
}

/// `page` renders a live, advancing video from `peer` whose stamps advance.
async fn page_plays_pattern(
    browser: &mut BrowserPeers,
    page: &str,
    peer: &str,
) -> anyhow::Result<()> {
    let first = browser
        .wait_video(page, peer, |v| v.is_live() && v.frames_rendered >= 5, VIDEO)
        .await?;
    assert_eq!((first.video_width, first.video_height), (640, 480));
    assert_eq!(first.codec.as_deref(), Some("video/H264"), "{first:?}");
    browser
        .wait_video(
            page,
            peer,
            |v| v.is_live() && v.frames_rendered >= first.frames_rendered + 15,
            VIDEO,
        )
        .await?;
    let a = page_stamp(browser, page, peer).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = page_stamp(browser, page, peer).await?;
    assert!(
        b > a + 5,
        "the page's picture did not advance: frame {a} then {b}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_test_pattern_plays_in_js_pages_including_one_that_joins_later() -> anyhow::Result<()>
{
    p2pcf_tests::init_logging();
    let server = TestServer::start(ServerConfig::default()).await?;
    let mut browser = BrowserPeers::launch().await?;
    let room = room();
    let early = browser
        .open("early", &server.url, &room, "early-js")
        .await?;
    let mut rust = RustPeer::join(&server.url, &room, "rusty").await?;
    let rust_id = rust.session_id().to_string();
    rust.connected(1, CONNECT).await?;
    browser
        .wait_for(ev("peerconnect", "early").peer(&rust_id), CONNECT)
        .await?;

    let sender = VideoSender::start(
        "pattern",
        Box::new(TestPattern::new(640, 480)?),
        SendSettings::default(),
    )?;
    rust.handle.add_track(sender.track()).await?;
    // Forward the pages' key-frame requests, as the app and the CLI do.
    let keyframe = {
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let mut events = std::mem::replace(&mut rust.events, mpsc::unbounded_channel().1);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let ClientEvent::KeyframeRequested { .. } = event {
                    let _ = tx.send(());
                }
            }
        });
        let sender_keys = sender.keyframe_trigger();
        tokio::spawn(async move {
            while rx.recv().await.is_some() {
                sender_keys.request();
            }
        })
    };
    page_plays_pattern(&mut browser, "early", &rust_id).await?;

    let late = browser.open("late", &server.url, &room, "late-js").await?;
    browser
        .wait_for(ev("peerconnect", "late").peer(&rust_id), CONNECT)
        .await?;
    page_plays_pattern(&mut browser, "late", &rust_id).await?;
    let _ = (early, late);

    // Stopping the track ends the pages' tiles.
    rust.handle.remove_track(sender.track_id()).await?;
    browser
        .wait_video("early", &rust_id, |v| v.ended, VIDEO)
        .await?;
    keyframe.abort();
    let stats = sender.stop();
    assert!(stats.frames > 60, "{stats:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_fake_camera_is_decoded_by_rust_and_ends_when_stopped() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let server = TestServer::start(ServerConfig::default()).await?;
    camera_to_rust_then_pattern_to_page(&server.url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_goes_both_ways_through_the_real_worker() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let worker = RealWorker::start(&[]).await?;
    camera_to_rust_then_pattern_to_page(&worker.url).await
}

/// The page's fake camera is decoded by Rust and ends when the page stops it; then Rust's test
/// pattern plays in the page.
async fn camera_to_rust_then_pattern_to_page(worker_url: &str) -> anyhow::Result<()> {
    let mut browser = BrowserPeers::launch().await?;
    let room = room();
    let mut rust = RustPeer::join(worker_url, &room, "rusty").await?;
    let page = browser.open("cam", worker_url, &room, "camera-js").await?;
    rust.connected(1, CONNECT).await?;
    browser
        .wait_for(
            ev("peerconnect", "cam").peer(rust.session_id().as_ref()),
            CONNECT,
        )
        .await?;

    // No codec preference: our side negotiates H.264 only, so Chromium must send H.264.
    browser.enable_video("cam", None).await?;
    let deadline = Instant::now() + VIDEO;
    let track = loop {
        match rust.next_event(deadline, "the page's track").await? {
            ClientEvent::TrackStarted { from, track } => {
                assert_eq!(from.to_string(), page.session_id);
                break track;
            }
            _ => continue,
        }
    };
    let (frames_tx, mut frames) = mpsc::channel(16);
    let receiver = VideoReceiver::start(track, frames_tx);
    let mut decoded = 0;
    let mut distinct = std::collections::HashSet::new();
    while decoded < 30 {
        match tokio::time::timeout(VIDEO, frames.recv()).await {
            Ok(Some(ReceiverEvent::Frame(frame))) => {
                assert_eq!((frame.width, frame.height), (640, 480));
                // Chromium's fake camera animates: frames differ.
                distinct.insert(
                    frame
                        .rgba
                        .iter()
                        .step_by(997)
                        .map(|&b| u64::from(b))
                        .sum::<u64>(),
                );
                decoded += 1;
            }
            Ok(Some(ReceiverEvent::Ended)) | Ok(None) => bail!("the camera track ended early"),
            Err(_) => bail!(
                "no decoded camera frame for {VIDEO:?} ({:?})",
                receiver.stats()
            ),
        }
    }
    assert!(distinct.len() > 10, "the decoded pictures do not change");

    browser.disable_video("cam").await?;
    let ended = tokio::time::timeout(VIDEO, async {
        loop {
            match frames.recv().await {
                Some(ReceiverEvent::Frame(_)) => continue,
                Some(ReceiverEvent::Ended) | None => return,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the Rust side's track did not end after disableVideo"
    );

    // And the other way: Rust's pattern plays in the page.
    let sender = VideoSender::start(
        "pattern",
        Box::new(TestPattern::new(640, 480)?),
        SendSettings::default(),
    )?;
    rust.handle.add_track(sender.track()).await?;
    page_plays_pattern(&mut browser, "cam", rust.session_id().as_ref()).await?;
    sender.stop();
    Ok(())
}
