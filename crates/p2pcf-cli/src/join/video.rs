//! `join --video`: share a video source with every peer, and report the video peers send.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use p2pcf_client::{ClientHandle, RemoteTrack};
use p2pcf_media::{
    read_stamp, unix_time_us, Camera, MediaError, ScreenCapture, TestPattern, VideoSource,
};
use p2pcf_video::{ReceiverEvent, SendSettings, VideoReceiver, VideoSender};
use tokio::sync::mpsc;

use super::output::{Event, Output};

/// Decoded frames waiting to be looked at; the CLI only counts them.
const FRAME_QUEUE: usize = 4;
/// How often received video is reported.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Where `--video` frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceKind {
    TestPattern,
    Screen,
    Camera(Option<String>),
}

/// `--video` and its companions, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VideoSpec {
    pub source: SourceKind,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
}

/// Parses `test-pattern`, `screen`, `camera` or `camera:/dev/videoN`.
pub(crate) fn parse_source(raw: &str) -> anyhow::Result<SourceKind> {
    match raw {
        "test-pattern" | "pattern" => Ok(SourceKind::TestPattern),
        "screen" => Ok(SourceKind::Screen),
        "camera" => Ok(SourceKind::Camera(None)),
        other => match other.strip_prefix("camera:") {
            Some(path) if !path.is_empty() => Ok(SourceKind::Camera(Some(path.to_owned()))),
            _ => bail!(
                "invalid --video {raw:?}: use test-pattern, screen, camera or camera:/dev/videoN"
            ),
        },
    }
}

/// Parses `WIDTHxHEIGHT` (even numbers, 320x240 … 1920x1080).
pub(crate) fn parse_size(raw: &str) -> anyhow::Result<(u32, u32)> {
    let parsed = raw
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
    match parsed {
        Some((w, h))
            if (320..=1920).contains(&w)
                && (240..=1080).contains(&h)
                && w % 2 == 0
                && h % 2 == 0 =>
        {
            Ok((w, h))
        }
        _ => bail!(
            "invalid --video-size {raw:?}: use WIDTHxHEIGHT with even numbers from 320x240 to \
             1920x1080, e.g. 640x480"
        ),
    }
}

impl VideoSpec {
    /// Opens the source; runs on the encoder thread (a V4L2 camera is not `Send`).
    fn open(&self) -> Result<Box<dyn VideoSource>, MediaError> {
        let (width, height) = (self.width, self.height);
        Ok(match &self.source {
            SourceKind::TestPattern => Box::new(TestPattern::new(width, height)?),
            SourceKind::Screen => Box::new(ScreenCapture::open(None)?.scaled_to(width, height)?),
            SourceKind::Camera(path) => {
                let path = match path {
                    Some(path) => std::path::PathBuf::from(path),
                    None => p2pcf_media::list_cameras()
                        .into_iter()
                        .next()
                        .map(|c| c.path)
                        .ok_or_else(|| MediaError::Camera {
                            path: "/dev/video*".into(),
                            reason: "no camera found; try --video test-pattern".into(),
                        })?,
                };
                Box::new(Camera::open(&path, width, height)?)
            }
        })
    }

    /// Starts the encoder and shares its track with every peer, now and later.
    pub(crate) async fn start(&self, client: &ClientHandle) -> anyhow::Result<VideoSender> {
        let spec = self.clone();
        let sender = VideoSender::start_with(
            "video",
            move || spec.open(),
            SendSettings {
                fps: self.fps,
                bitrate_bps: self.bitrate_bps,
            },
        )
        .context("cannot start --video")?;
        client.add_track(sender.track()).await?;
        Ok(sender)
    }
}

/// Reports a peer's video track until it ends: once per second its decoded frame rate, size,
/// and (when the frames carry our test-pattern stamp) the capture-to-decode latency.
pub(crate) async fn watch_track(
    output: Output,
    from: String,
    client_id: String,
    track: RemoteTrack,
) {
    output.emit(&Event::TrackStarted {
        from: from.clone(),
        client_id: client_id.clone(),
        kind: track.kind().to_owned(),
    });
    let (frames_tx, mut frames) = mpsc::channel(FRAME_QUEUE);
    let receiver = VideoReceiver::start(track, frames_tx);
    let mut next_report = Instant::now() + REPORT_EVERY;
    let mut latency_ms: Option<f64> = None;
    let mut last_stamp: Option<u32> = None;
    loop {
        let wait = next_report.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, frames.recv()).await {
            Ok(Some(ReceiverEvent::Frame(frame))) => {
                if let Some(stamp) = read_stamp(&frame.rgba, frame.width, frame.height) {
                    let us = unix_time_us().saturating_sub(stamp.capture_time_us);
                    latency_ms = Some(us as f64 / 1000.0);
                    last_stamp = Some(stamp.frame_number);
                }
            }
            Ok(Some(ReceiverEvent::Ended)) | Ok(None) => break,
            Err(_) => {
                next_report = Instant::now() + REPORT_EVERY;
                let stats = receiver.stats();
                output.emit(&Event::VideoStats {
                    from: from.clone(),
                    client_id: client_id.clone(),
                    fps: (stats.fps * 10.0).round() / 10.0,
                    frames: stats.frames,
                    width: stats.width,
                    height: stats.height,
                    dropped: stats.dropped,
                    decode_errors: stats.decode_errors,
                    latency_ms: latency_ms.take().map(|ms| (ms * 10.0).round() / 10.0),
                    stamp_frame: last_stamp,
                });
            }
        }
    }
    let stats = receiver.stats();
    output.emit(&Event::TrackEnded {
        from,
        client_id,
        frames: stats.frames,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_sizes_parse_or_explain() -> anyhow::Result<()> {
        assert_eq!(parse_source("test-pattern")?, SourceKind::TestPattern);
        assert_eq!(
            parse_source("camera:/dev/video2")?,
            SourceKind::Camera(Some("/dev/video2".into()))
        );
        let err = parse_source("webcam").expect_err("webcam is no source");
        assert!(err.to_string().contains("test-pattern"));
        assert!(parse_source("camera:").is_err());
        assert_eq!(parse_size("1280x720")?, (1280, 720));
        for bad in ["640", "641x480", "100x100", "axb", "4000x3000"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        Ok(())
    }
}
