//! Video in the browser pages: the fake camera sent to every peer with `peer.addStream` (as
//! P2PCF's chat+video example does), remote tracks shown in `<video>` tiles, their frame counts
//! and grayscale snapshots. Protocol: `tests/js/README.md` ("Video").

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{ev, BrowserPeers};

/// How long a page command may take before the Rust side gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// Poll interval of [`BrowserPeers::wait_video`].
const POLL: Duration = Duration::from_millis(250);

/// `enableVideo` parameters: `getUserMedia({video: {width, height, frameRate}})`, and an
/// optional preferred codec (`"video/H264"`, `"video/VP8"`, …) for what this page sends.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoOptions {
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    pub codec: Option<String>,
}

impl Default for VideoOptions {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            frame_rate: None,
            codec: None,
        }
    }
}

/// The `videoEnabled` event: the local camera track and the peers it was added to right away
/// (peers that connect later get it on their `peerconnect`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoEnabled {
    pub track_id: String,
    pub stream_id: String,
    /// `MediaStreamTrack.getSettings()` of the camera track.
    pub settings: Value,
    pub codec: Option<String>,
    pub peers: Vec<String>,
}

/// One remote peer's video tile, as `videoStats` reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteVideo {
    /// Remote session id.
    pub peer: String,
    pub client: String,
    /// 1 for the peer's first tile, +1 for each new stream after the previous one ended.
    pub tile: u32,
    pub stream_id: String,
    /// Live remote tracks in the tile.
    pub tracks: u32,
    /// `video.videoWidth` (0 once ended).
    pub video_width: u32,
    pub video_height: u32,
    /// `requestVideoFrameCallback` calls so far.
    pub frames_rendered: u64,
    /// `Date.now()` of the last rendered frame.
    pub last_frame_at: Option<f64>,
    pub ended: bool,
    /// `removed` (remote stopped sending), `ended` (track ended), `peerclose`, `replaced`.
    pub ended_reason: Option<String>,
    pub ended_at: Option<f64>,
    /// From the inbound RTP stats: negotiated codec (`video/VP8`, `video/H264`, …).
    pub codec: Option<String>,
    pub sdp_fmtp_line: Option<String>,
    pub frames_decoded: Option<u64>,
    pub frames_received: Option<u64>,
    pub decoder_implementation: Option<String>,
}

impl RemoteVideo {
    /// Not ended, with a decoded size.
    pub fn is_live(&self) -> bool {
        !self.ended && self.tracks > 0 && self.video_width > 0 && self.video_height > 0
    }
}

/// A source rectangle in video pixels.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// `snapshot` parameters: `rect` (default: the whole frame) scaled to `width` x `height`
/// (`None`: keep the aspect ratio).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotRequest {
    pub width: u32,
    pub height: Option<u32>,
    pub rect: Option<Rect>,
    pub timeout_ms: u64,
}

impl Default for SnapshotRequest {
    fn default() -> Self {
        Self {
            width: 160,
            height: None,
            rect: None,
            timeout_ms: 5000,
        }
    }
}

/// `requestVideoFrameCallback` metadata of the snapshot's frame; times are epoch ms.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameInfo {
    pub presented_frames: Option<u64>,
    pub media_time: Option<f64>,
    pub rtp_timestamp: Option<u32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub expected_display_at: Option<f64>,
    pub presented_at: Option<f64>,
    pub received_at: Option<f64>,
    pub captured_at: Option<f64>,
}

/// A grayscale (BT.601 luma, one byte per pixel, row-major) picture of one remote frame.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub peer: String,
    pub tile: u32,
    pub width: u32,
    pub height: u32,
    pub rect: Rect,
    pub video_width: u32,
    pub video_height: u32,
    pub luma: Vec<u8>,
    /// `Date.now()` in the page when the frame was drawn.
    pub drawn_at: f64,
    pub frame: FrameInfo,
}

impl Snapshot {
    /// Luma at (`x`, `y`); `None` outside the picture.
    pub fn pixel(&self, x: u32, y: u32) -> Option<u8> {
        if x >= self.width || y >= self.height {
            return None;
        }
        self.luma.get((y * self.width + x) as usize).copied()
    }

    /// Mean luma of the `w` x `h` block at (`x`, `y`), clipped to the picture (`None` if empty).
    pub fn mean(&self, x: u32, y: u32, w: u32, h: u32) -> Option<f64> {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        let mut sum = 0u64;
        let mut n = 0u64;
        for yy in y..y1 {
            for xx in x..x1 {
                sum += u64::from(self.pixel(xx, yy)?);
                n += 1;
            }
        }
        (n > 0).then(|| sum as f64 / n as f64)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSnapshot {
    peer: String,
    tile: u32,
    width: u32,
    height: u32,
    rect: Rect,
    video_width: u32,
    video_height: u32,
    format: String,
    data: String,
    drawn_at: f64,
    frame: FrameInfo,
}

/// One entry of `RTCRtpSender/RTCRtpReceiver.getCapabilities('video').codecs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Codec {
    pub mime_type: String,
    pub clock_rate: Option<u32>,
    pub sdp_fmtp_line: Option<String>,
}

/// What Chromium can send and receive.
#[derive(Debug, Clone, Deserialize)]
pub struct CodecCapabilities {
    pub send: Vec<Codec>,
    pub recv: Vec<Codec>,
}

impl CodecCapabilities {
    pub fn can_send(&self, mime_type: &str) -> bool {
        self.send
            .iter()
            .any(|c| c.mime_type.eq_ignore_ascii_case(mime_type))
    }

    pub fn can_receive(&self, mime_type: &str) -> bool {
        self.recv
            .iter()
            .any(|c| c.mime_type.eq_ignore_ascii_case(mime_type))
    }
}

fn parse<T: serde::de::DeserializeOwned>(event: &Value, what: &str) -> anyhow::Result<T> {
    serde_json::from_value(event.clone())
        .with_context(|| format!("malformed `{what}` event: {event}"))
}

impl BrowserPeers {
    /// Sends `cmd` (with a fresh tag) and waits for the `reply` event of page `id` it causes.
    async fn command(&mut self, mut cmd: Value, reply: &str) -> anyhow::Result<Value> {
        let tag = self.next_tag();
        let id = cmd["id"].as_str().unwrap_or_default().to_owned();
        cmd["tag"] = json!(tag);
        self.send(cmd).await?;
        self.wait_for(ev(reply, &id).tag(&tag), COMMAND_TIMEOUT)
            .await
    }

    /// Video codecs page `id`'s Chromium can send and receive.
    pub async fn codec_capabilities(&mut self, id: &str) -> anyhow::Result<CodecCapabilities> {
        let event = self
            .command(json!({ "cmd": "codecs", "id": id }), "codecs")
            .await?;
        parse(&event, "codecs")
    }

    /// Page `id` opens the fake camera at 640x480 and sends it to every peer (`codec`: preferred
    /// codec, e.g. `"video/H264"`).
    pub async fn enable_video(
        &mut self,
        id: &str,
        codec: Option<&str>,
    ) -> anyhow::Result<VideoEnabled> {
        let options = VideoOptions {
            codec: codec.map(str::to_owned),
            ..VideoOptions::default()
        };
        self.enable_video_with(id, &options).await
    }

    /// [`enable_video`](Self::enable_video) with every option.
    pub async fn enable_video_with(
        &mut self,
        id: &str,
        options: &VideoOptions,
    ) -> anyhow::Result<VideoEnabled> {
        let mut cmd = serde_json::to_value(options)?;
        cmd["cmd"] = json!("enableVideo");
        cmd["id"] = json!(id);
        let event = self.command(cmd, "videoEnabled").await?;
        parse(&event, "videoEnabled")
    }

    /// Page `id` removes its camera stream from every peer and stops the camera; returns the
    /// session ids it was removed from.
    pub async fn disable_video(&mut self, id: &str) -> anyhow::Result<Vec<String>> {
        let event = self
            .command(json!({ "cmd": "disableVideo", "id": id }), "videoDisabled")
            .await?;
        parse(&event["peers"], "videoDisabled")
    }

    /// Page `id`'s remote video tiles, by remote session id (ended ones included).
    pub async fn video_stats(&mut self, id: &str) -> anyhow::Result<BTreeMap<String, RemoteVideo>> {
        let event = self
            .command(json!({ "cmd": "videoStats", "id": id }), "videoStats")
            .await?;
        parse(&event["remotes"], "videoStats")
    }

    /// Polls [`video_stats`](Self::video_stats) of page `id` until the tile of `peer` exists and
    /// satisfies `pred`, for at most `timeout`; the error shows the last stats seen.
    pub async fn wait_video(
        &mut self,
        id: &str,
        peer: &str,
        mut pred: impl FnMut(&RemoteVideo) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<RemoteVideo> {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.video_stats(id).await?;
            let tile = stats.get(peer);
            if let Some(tile) = tile.filter(|t| pred(t)) {
                return Ok(tile.clone());
            }
            if Instant::now() >= deadline {
                bail!(
                    "page {id}: the video tile of {peer} did not reach the expected state within \
                     {timeout:?}; last: {tile:?}\n{}",
                    self.recent()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// A grayscale snapshot of the next frame page `id` shows for remote `peer`.
    pub async fn snapshot(
        &mut self,
        id: &str,
        peer: &str,
        request: &SnapshotRequest,
    ) -> anyhow::Result<Snapshot> {
        let mut cmd = serde_json::to_value(request)?;
        cmd["cmd"] = json!("snapshot");
        cmd["id"] = json!(id);
        cmd["peer"] = json!(peer);
        let event = self.command(cmd, "snapshot").await?;
        let raw: RawSnapshot = parse(&event, "snapshot")?;
        ensure!(raw.format == "gray8", "snapshot format {}", raw.format);
        let luma = base64::engine::general_purpose::STANDARD
            .decode(&raw.data)
            .map_err(|e| anyhow!("snapshot data is not base64: {e}"))?;
        ensure!(
            luma.len() == raw.width as usize * raw.height as usize,
            "snapshot of {}x{} has {} bytes",
            raw.width,
            raw.height,
            luma.len()
        );
        Ok(Snapshot {
            peer: raw.peer,
            tile: raw.tile,
            width: raw.width,
            height: raw.height,
            rect: raw.rect,
            video_width: raw.video_width,
            video_height: raw.video_height,
            luma,
            drawn_at: raw.drawn_at,
            frame: raw.frame,
        })
    }
}
