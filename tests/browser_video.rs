//! Video between unmodified JavaScript P2PCF pages (npm `p2pcf@1.3.14`) in headless Chromium,
//! signalled by our Rust server: the page's fake camera goes to every peer with
//! `peer.addStream` (P2PCF's own chat+video example), renegotiated over the data channel, and
//! shows up as a playing `<video>` tile on the other pages.

use std::time::Duration;

use anyhow::ensure;
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{ev, BrowserPeers, RemoteVideo, SnapshotRequest, Started};
use p2pcf_tests::server::TestServer;

/// P2PCF needs ~10 s to connect on loopback; leave room for a busy machine.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// From `enableVideo` (renegotiation over the data channel) to frames on the remote page.
const VIDEO_TIMEOUT: Duration = Duration::from_secs(30);

fn unique_room() -> String {
    format!("room-{:08x}", rand::random::<u32>())
}

/// Waits until `x` and `y` saw each other connect.
async fn connected(browser: &mut BrowserPeers, x: &Started, y: &Started) -> anyhow::Result<()> {
    browser
        .wait_for(
            ev("peerconnect", &x.id).peer(&y.session_id),
            CONNECT_TIMEOUT,
        )
        .await?;
    browser
        .wait_for(
            ev("peerconnect", &y.id).peer(&x.session_id),
            CONNECT_TIMEOUT,
        )
        .await?;
    Ok(())
}

/// Page `viewer` shows a live tile of `sender` whose frame count keeps growing.
async fn sees_moving_video(
    browser: &mut BrowserPeers,
    viewer: &str,
    sender: &Started,
) -> anyhow::Result<()> {
    let first = browser
        .wait_video(
            viewer,
            &sender.session_id,
            |v| v.is_live() && v.frames_rendered >= 5,
            VIDEO_TIMEOUT,
        )
        .await?;
    let later = browser
        .wait_video(
            viewer,
            &sender.session_id,
            |v| {
                v.is_live()
                    && v.tile == first.tile
                    && v.frames_rendered >= first.frames_rendered + 10
            },
            VIDEO_TIMEOUT,
        )
        .await?;
    ensure!(
        later.last_frame_at > first.last_frame_at,
        "frames keep coming: {first:?} then {later:?}"
    );
    ensure!(later.tracks == 1, "one video track: {later:?}");
    Ok(())
}

/// A enables video: B (already there) and C (joins later) both get moving video; a snapshot on
/// B shows real, changing pictures; A disables video and both tiles end and stop counting.
#[tokio::test]
async fn js_page_video_reaches_present_and_late_peers_and_ends_when_disabled() -> anyhow::Result<()>
{
    let server = TestServer::start(ServerConfig::default()).await?;
    let mut browser = BrowserPeers::launch().await?;
    let room = unique_room();
    let a = browser.open("a", &server.url, &room, "alice").await?;
    let b = browser.open("b", &server.url, &room, "bob-1").await?;
    connected(&mut browser, &a, &b).await?;

    let enabled = browser.enable_video("a", None).await?;
    ensure!(
        enabled.peers == vec![b.session_id.clone()],
        "added to the connected peer: {enabled:?}"
    );
    browser
        .wait_for(ev("remotetrack", "b").peer(&a.session_id), VIDEO_TIMEOUT)
        .await?;
    sees_moving_video(&mut browser, "b", &a).await?;

    // Real pictures: Chromium's fake camera draws an animated pattern, so a frame is not flat
    // and two frames half a second apart differ.
    let shot = browser
        .snapshot("b", &a.session_id, &SnapshotRequest::default())
        .await?;
    ensure!(
        shot.width == 160 && shot.height == 120,
        "160 wide, 4:3: {}x{}",
        shot.width,
        shot.height
    );
    let (lo, hi) = (shot.luma.iter().min(), shot.luma.iter().max());
    ensure!(
        matches!((lo, hi), (Some(lo), Some(hi)) if hi - lo > 40),
        "a frame with contrast: luma {lo:?}..{hi:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shot2 = browser
        .snapshot("b", &a.session_id, &SnapshotRequest::default())
        .await?;
    ensure!(
        shot2.frame.presented_frames > shot.frame.presented_frames,
        "a later frame: {:?} then {:?}",
        shot.frame,
        shot2.frame
    );
    ensure!(shot2.luma != shot.luma, "the picture moves");

    // C joins after video was enabled: A adds the stream on C's 'peerconnect'.
    let c = browser.open("c", &server.url, &room, "carol").await?;
    connected(&mut browser, &a, &c).await?;
    connected(&mut browser, &b, &c).await?;
    sees_moving_video(&mut browser, "c", &a).await?;
    let on_c = browser.video_stats("c").await?;
    ensure!(
        !on_c.contains_key(&b.session_id),
        "B sends no video, so C has no tile for it: {on_c:?}"
    );
    sees_moving_video(&mut browser, "b", &a).await?;

    let mut removed_from = browser.disable_video("a").await?;
    removed_from.sort();
    let mut expected = vec![b.session_id.clone(), c.session_id.clone()];
    expected.sort();
    ensure!(
        removed_from == expected,
        "removed from B and C: {removed_from:?}"
    );
    for viewer in ["b", "c"] {
        browser
            .wait_for(ev("videoended", viewer).peer(&a.session_id), VIDEO_TIMEOUT)
            .await?;
        let ended = browser
            .wait_video(viewer, &a.session_id, |v| v.ended, VIDEO_TIMEOUT)
            .await?;
        ensure!(
            ended.tracks == 0 && ended.video_width == 0,
            "tile removed: {ended:?}"
        );
        ensure!(
            ended.ended_reason.as_deref() == Some("removed"),
            "ended because A stopped sending (not because the peer went): {ended:?}"
        );
    }
    let frames_of = |stats: &std::collections::BTreeMap<String, RemoteVideo>| {
        stats.get(&a.session_id).map(|v| v.frames_rendered)
    };
    let frozen = frames_of(&browser.video_stats("b").await?);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = frames_of(&browser.video_stats("b").await?);
    ensure!(
        frozen.is_some() && frozen == still,
        "the ended tile is still reported, and counts no more frames: {frozen:?} then {still:?}"
    );
    // The peers stay connected: video off is not a disconnect.
    browser
        .send_text("a", Some(&b.session_id), "still here")
        .await?;
    browser
        .wait_for(
            ev("msg", "b").peer(&a.session_id).text("still here"),
            Duration::from_secs(15),
        )
        .await?;

    browser.quit().await?;
    server.stop().await
}

/// With `video/H264` preferred, video flows both ways between two pages (so both the offering
/// and the answering side of the renegotiation send) and each side decodes H.264.
#[tokio::test]
async fn js_pages_exchange_h264_video_when_preferred() -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let mut browser = BrowserPeers::launch().await?;
    let room = unique_room();
    let a = browser.open("a", &server.url, &room, "alice").await?;
    let b = browser.open("b", &server.url, &room, "bob-1").await?;

    let caps = browser.codec_capabilities("a").await?;
    ensure!(
        caps.can_send("video/H264") && caps.can_receive("video/H264"),
        "this Chromium encodes and decodes H.264: {caps:?}"
    );

    connected(&mut browser, &a, &b).await?;
    browser.enable_video("a", Some("video/H264")).await?;
    browser.enable_video("b", Some("video/H264")).await?;
    for (viewer, sender) in [("b", &a), ("a", &b)] {
        sees_moving_video(&mut browser, viewer, sender).await?;
        let tile = browser
            .wait_video(
                viewer,
                &sender.session_id,
                |v| v.codec.as_deref() == Some("video/H264") && v.frames_decoded > Some(0),
                VIDEO_TIMEOUT,
            )
            .await?;
        ensure!(tile.is_live(), "H.264 tile live: {tile:?}");
        // Still moving after the codec settled.
        let frames = tile.frames_rendered;
        browser
            .wait_video(
                viewer,
                &sender.session_id,
                |v| {
                    v.is_live()
                        && v.codec.as_deref() == Some("video/H264")
                        && v.frames_rendered >= frames + 10
                },
                VIDEO_TIMEOUT,
            )
            .await?;
    }
    browser.quit().await?;
    server.stop().await
}
