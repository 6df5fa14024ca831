//! The video part of the settings: where "Enable Video" takes its frames from, at what size,
//! frame rate and bitrate. Pure rules, unit-tested; [`crate::settings::Settings::validate`]
//! reports their problems with the other fields'.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Sizes accepted (even numbers; the encoder works on 2x2 blocks, and the test pattern needs
/// at least 320x240 for its frame stamp).
pub const MIN_WIDTH: u32 = 320;
pub const MAX_WIDTH: u32 = 1920;
pub const MIN_HEIGHT: u32 = 240;
pub const MAX_HEIGHT: u32 = 1080;
pub const MAX_FPS: u32 = 60;
pub const MIN_KBPS: u32 = 100;
pub const MAX_KBPS: u32 = 20_000;

/// Where "Enable Video" takes its frames from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VideoSourceKind {
    /// A V4L2 camera (the `camera` setting, or the first one found). Without a camera the app
    /// sends the test pattern and says so.
    #[default]
    Camera,
    /// The X11 screen, scaled to the video size.
    Screen,
    /// The synthetic moving pattern with a frame stamp.
    TestPattern,
}

impl VideoSourceKind {
    pub fn label(self) -> &'static str {
        match self {
            VideoSourceKind::Camera => "camera",
            VideoSourceKind::Screen => "screen",
            VideoSourceKind::TestPattern => "test pattern",
        }
    }
}

/// The video fields of the settings, borrowed for checking.
pub struct VideoFields<'a> {
    pub camera: &'a str,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub kbps: u32,
}

/// Every problem of the video fields, as (field, message).
pub fn problems(v: &VideoFields<'_>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !v.camera.is_empty() && !Path::new(v.camera).is_absolute() {
        out.push((
            "camera",
            "the camera must be a device path like /dev/video0 (or empty for the first camera)"
                .to_owned(),
        ));
    }
    for (field, value, min, max) in [
        ("videoWidth", v.width, MIN_WIDTH, MAX_WIDTH),
        ("videoHeight", v.height, MIN_HEIGHT, MAX_HEIGHT),
    ] {
        if !(min..=max).contains(&value) || value % 2 != 0 {
            out.push((field, format!("use an even number from {min} to {max}")));
        }
    }
    if !(1..=MAX_FPS).contains(&v.fps) {
        out.push(("videoFps", format!("use 1 to {MAX_FPS} frames per second")));
    }
    if !(MIN_KBPS..=MAX_KBPS).contains(&v.kbps) {
        out.push(("videoKbps", format!("use {MIN_KBPS} to {MAX_KBPS} kbit/s")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(camera: &str, width: u32, height: u32, fps: u32, kbps: u32) -> Vec<&'static str> {
        problems(&VideoFields {
            camera,
            width,
            height,
            fps,
            kbps,
        })
        .into_iter()
        .map(|(f, _)| f)
        .collect()
    }

    #[test]
    fn usual_video_settings_pass() {
        assert!(fields("", 640, 480, 30, 1500).is_empty());
        assert!(fields("/dev/video2", 1920, 1080, 60, 100).is_empty());
        assert!(fields("", 320, 240, 1, 20_000).is_empty());
    }

    #[test]
    fn odd_or_out_of_range_sizes_rates_and_relative_cameras_are_refused() {
        assert_eq!(fields("video0", 640, 480, 30, 1500), ["camera"]);
        assert_eq!(fields("", 641, 480, 30, 1500), ["videoWidth"]);
        assert_eq!(fields("", 640, 200, 30, 1500), ["videoHeight"]);
        assert_eq!(
            fields("", 4000, 3000, 0, 50),
            ["videoWidth", "videoHeight", "videoFps", "videoKbps"]
        );
        assert_eq!(fields("", 640, 480, 61, 1500), ["videoFps"]);
    }

    #[test]
    fn sources_use_the_documented_names() {
        for (kind, name) in [
            (VideoSourceKind::Camera, "\"camera\""),
            (VideoSourceKind::Screen, "\"screen\""),
            (VideoSourceKind::TestPattern, "\"test-pattern\""),
        ] {
            assert_eq!(serde_json::to_string(&kind).ok().as_deref(), Some(name));
        }
        assert!(serde_json::from_str::<VideoSourceKind>("\"webcam\"").is_err());
    }
}
