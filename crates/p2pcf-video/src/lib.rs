//! Video over P2PCF, on top of [`p2pcf_client`]'s media hooks and [`p2pcf_media`]'s codec:
//!
//! * [`VideoSender`]: frames from a [`p2pcf_media::VideoSource`] (test pattern, screen,
//!   camera) paced at a frame rate, encoded to H.264 on a blocking thread and written to a
//!   webrtc-rs track that [`p2pcf_client::ClientHandle::add_track`] shares with every peer.
//!   Key-frame requests from peers ([`p2pcf_client::ClientEvent::KeyframeRequested`]) go to
//!   [`VideoSender::request_keyframe`].
//! * [`VideoReceiver`]: a remote track ([`p2pcf_client::ClientEvent::TrackStarted`]) read,
//!   depacketized and decoded to RGBA [`ReceivedFrame`]s, with running statistics. Frames are
//!   offered to a bounded queue: a slow consumer loses frames (counted), never memory.

mod receiver;
mod sender;
mod stats;

pub use receiver::{ReceivedFrame, ReceiverEvent, VideoReceiver};
pub use sender::{KeyframeTrigger, SendSettings, SenderStats, VideoSender};
pub use stats::{thread_cpu_time, FpsMeter};

/// Errors of the video layer.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// Encoding or decoding failed.
    #[error("media: {0}")]
    Media(#[from] p2pcf_media::MediaError),
    /// The client refused the track.
    #[error("client: {0}")]
    Client(#[from] p2pcf_client::ClientError),
}
