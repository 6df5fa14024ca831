//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the media layer.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Width/height not usable (zero, odd, or too large for I420/H264).
    #[error("invalid frame size {width}x{height}: {reason}")]
    InvalidDimensions {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
        /// Why the size was refused.
        reason: &'static str,
    },
    /// A pixel buffer has the wrong length for the stated size.
    #[error("pixel buffer holds {actual} bytes, expected {expected}")]
    BufferSize {
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The H264 encoder refused a frame or its settings.
    #[error("H264 encoder: {0}")]
    Encoder(String),
    /// The H264 decoder could not decode the bitstream (corrupt or unsupported data).
    #[error("H264 decoder: {0}")]
    Decoder(String),
    /// Screen capture failed (no X server, connection lost, request refused).
    #[error("screen capture: {0}")]
    ScreenCapture(String),
    /// A camera could not be opened or read.
    #[error("camera {path}: {reason}")]
    Camera {
        /// The device node, e.g. `/dev/video0`.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}
