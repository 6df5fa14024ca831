//! Our own video: the source chosen in the settings (camera, screen or test pattern; the
//! test pattern, with a note, when there is no usable camera), encoded by a
//! [`p2pcf_video::VideoSender`] whose track the client shares with every peer. A copy of every
//! few frames goes to the UI as the preview tile.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use p2pcf_media::{Frame, MediaError, ScreenCapture, TestPattern, VideoSource};
use p2pcf_video::{SendSettings, VideoSender};
use serde::Serialize;

use crate::camera_thread::CameraThread;
use crate::error::AppError;
use crate::frames::{FrameSink, PREVIEW_TILE};
use crate::settings::Settings;
use crate::video_settings::VideoSourceKind;

/// Each start uses a new track id (`video-1`, `video-2`, …; stream `stream-video-N`): webrtc-rs
/// re-adding a removed track's id reuses its stopped sender, and that fails ("new track must
/// have the same envelope as previous"), so a restarted video gets a new transceiver instead.
static TRACK_SEQ: AtomicU32 = AtomicU32::new(1);
/// The preview is a small picture: this many frames per second are enough.
const PREVIEW_EVERY: Duration = Duration::from_millis(100);

/// What `start_video` tells the UI.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VideoInfo {
    /// The source in use (may differ from the setting: see `note`).
    pub source: VideoSourceKind,
    /// What it is, in words ("test pattern", "camera USB Camera (/dev/video0)", "screen").
    pub description: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Why the source differs from the setting, for the user.
    pub note: Option<String>,
}

/// A camera to choose from in the settings.
#[derive(Debug, Clone, Serialize)]
pub struct CameraChoice {
    pub path: String,
    pub name: String,
}

pub fn cameras() -> Vec<CameraChoice> {
    p2pcf_media::list_cameras()
        .into_iter()
        .map(|c| CameraChoice {
            path: c.path.display().to_string(),
            name: c.name,
        })
        .collect()
}

type Source = Box<dyn VideoSource + Send>;

fn test_pattern(
    settings: &Settings,
    note: Option<String>,
) -> Result<(Source, VideoInfo), MediaError> {
    let source = TestPattern::new(settings.video_width, settings.video_height)?;
    Ok((
        Box::new(source),
        info(settings, VideoSourceKind::TestPattern, "test pattern", note),
    ))
}

fn info(
    settings: &Settings,
    source: VideoSourceKind,
    what: &str,
    note: Option<String>,
) -> VideoInfo {
    VideoInfo {
        source,
        description: what.to_owned(),
        width: settings.video_width,
        height: settings.video_height,
        fps: settings.video_fps,
        note,
    }
}

/// Opens the source the settings ask for (blocking: device and X11 calls).
pub fn open_source(settings: &Settings) -> Result<(Source, VideoInfo), AppError> {
    let (w, h) = (settings.video_width, settings.video_height);
    let media = |e: MediaError| AppError::Invalid(format!("cannot start video: {e}"));
    match settings.video_source {
        VideoSourceKind::TestPattern => test_pattern(settings, None).map_err(media),
        VideoSourceKind::Screen => {
            let screen = ScreenCapture::open(None)
                .and_then(|s| s.scaled_to(w, h))
                .map_err(|e| AppError::Invalid(format!("cannot capture the screen: {e}")))?;
            Ok((
                Box::new(screen),
                info(settings, VideoSourceKind::Screen, "screen", None),
            ))
        }
        VideoSourceKind::Camera => {
            let found = cameras();
            let chosen = if settings.camera.is_empty() {
                found.first().cloned()
            } else {
                Some(
                    found
                        .iter()
                        .find(|c| c.path == settings.camera)
                        .cloned()
                        .unwrap_or_else(|| CameraChoice {
                            path: settings.camera.clone(),
                            name: settings.camera.clone(),
                        }),
                )
            };
            let Some(camera) = chosen else {
                let note = "No camera found: sending a test pattern instead.".to_owned();
                return test_pattern(settings, Some(note)).map_err(media);
            };
            match CameraThread::open(std::path::Path::new(&camera.path), w, h) {
                Ok(opened) => {
                    let (cw, ch) = opened.size();
                    let mut shown = info(
                        settings,
                        VideoSourceKind::Camera,
                        &format!("camera {} ({})", camera.name, camera.path),
                        None,
                    );
                    (shown.width, shown.height) = (cw, ch);
                    Ok((Box::new(opened), shown))
                }
                Err(e) => {
                    let note = format!(
                        "Camera {} cannot be used ({e}): sending a test pattern instead.",
                        camera.path
                    );
                    test_pattern(settings, Some(note)).map_err(media)
                }
            }
        }
    }
}

/// Wraps a source: every [`PREVIEW_EVERY`], a copy of the frame goes to the preview tile.
struct Previewed {
    inner: Source,
    sink: FrameSink,
    last: Option<Instant>,
    index: u64,
}

impl VideoSource for Previewed {
    fn next_frame(&mut self) -> Result<Frame, MediaError> {
        let frame = self.inner.next_frame()?;
        self.index += 1;
        if self.last.is_none_or(|t| t.elapsed() >= PREVIEW_EVERY) {
            self.last = Some(Instant::now());
            let rgba = frame.to_rgba();
            self.sink.offer(
                PREVIEW_TILE,
                frame.width(),
                frame.height(),
                self.index,
                &rgba,
            );
        }
        Ok(frame)
    }

    fn size(&self) -> (u32, u32) {
        self.inner.size()
    }
}

/// Starts the encoder on `source` (frames also to the preview tile).
pub fn start_sender(
    source: Source,
    settings: &Settings,
    sink: FrameSink,
) -> Result<VideoSender, AppError> {
    let previewed = Previewed {
        inner: source,
        sink,
        last: None,
        index: 0,
    };
    let track_id = format!("video-{}", TRACK_SEQ.fetch_add(1, Ordering::Relaxed));
    VideoSender::start(
        &track_id,
        Box::new(previewed),
        SendSettings {
            fps: settings.video_fps,
            bitrate_bps: settings.video_kbps.saturating_mul(1000),
        },
    )
    .map_err(|e| AppError::Invalid(format!("cannot start the video encoder: {e}")))
}
