//! Media layer for P2PCF video sharing: capture → encode → (transport elsewhere) → decode.
//!
//! No networking lives here. The pieces:
//! - [`Frame`]: an I420 picture, with [`rgba_to_i420`] / [`i420_to_rgba`] / [`bgra_to_i420`].
//! - [`VideoSource`]: where frames come from — the synthetic [`TestPattern`],
//!   X11 screen capture ([`ScreenCapture`]) and V4L2 cameras ([`list_cameras`], [`Camera`]).
//! - [`H264Encoder`] / [`H264Decoder`]: OpenH264 (compiled from source by the
//!   `openh264` crate), emitting Annex-B constrained-baseline streams fit for
//!   WebRTC (`profile-level-id=42e01f`, `packetization-mode=1`).
//! - [`read_stamp`]: reads the frame number and capture time that [`TestPattern`]
//!   paints into every frame, from a decoded RGBA picture — for end-to-end
//!   latency and frame-loss measurement.
//!
//! ```no_run
//! use p2pcf_media::{H264Decoder, H264Encoder, EncoderSettings, TestPattern, read_stamp};
//! # fn main() -> Result<(), p2pcf_media::MediaError> {
//! let mut pattern = TestPattern::new(640, 480)?;
//! let mut encoder = H264Encoder::new(EncoderSettings { width: 640, height: 480, fps: 30, bitrate_bps: 1_500_000 })?;
//! let mut decoder = H264Decoder::new()?;
//! let annexb = encoder.encode(&pattern.next_frame(1_700_000_000_000_000))?;
//! if let Some(decoded) = decoder.decode(&annexb)? {
//!     let stamp = read_stamp(&decoded.rgba, decoded.width, decoded.height);
//!     assert_eq!(stamp.map(|s| s.frame_number), Some(0));
//! }
//! # Ok(()) }
//! ```

mod camera;
mod codec;
mod error;
mod font;
mod frame;
mod pattern;
mod screen;
mod stamp;

pub use camera::{list_cameras, Camera, CameraInfo};
pub use codec::{
    is_keyframe, nal_types, nal_units, DecodedFrame, EncoderSettings, H264Decoder, H264Encoder,
};
pub use error::MediaError;
pub use frame::{bgra_to_i420, i420_to_rgba, rgba_to_i420, Frame, I420Planes, MAX_DIMENSION};
pub use pattern::TestPattern;
pub use screen::ScreenCapture;
pub use stamp::{read_stamp, Stamp, MIN_HEIGHT, MIN_WIDTH};

/// Something that produces frames: a test pattern, the screen, a camera.
pub trait VideoSource {
    /// Captures (or renders) the next frame; its capture time is set to now.
    fn next_frame(&mut self) -> Result<Frame, MediaError>;
    /// Width and height of the frames this source produces.
    fn size(&self) -> (u32, u32);
}

/// Current wall-clock time as unix microseconds (0 if the clock is before 1970).
pub fn unix_time_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
