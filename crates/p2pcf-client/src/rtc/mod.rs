//! The webrtc-rs adapter: peer connections set up the way P2PCF does it, with no protocol policy.
//!
//! * [`LocalCertificate`]: one ECDSA P-256 certificate per client, published by fingerprint.
//! * [`gather_network_settings`]: the throw-away probe behind `udpEnabled` / `isSymmetric` /
//!   `reflexiveIps`.
//! * [`PeerLink::initiator`] (peer B) and [`PeerLink::answerer`] (peer A): the minimal handshake
//!   of P2PCF, where each side invents the other's description from a few published values.
//!   Events arrive on one channel as `(key, LinkEvent)`.
//!
//! Callbacks from webrtc-rs only forward into an internal channel; one task per link turns that
//! into [`LinkEvent`]s (see `link_state`).

mod budget;
mod cert;
mod error;
mod link;
mod link_state;
mod media;
mod network;
mod options;
mod sdp;

use bytes::Bytes;

pub use budget::ReceiveBudget;
pub use cert::LocalCertificate;
pub use error::RtcError;
pub use link::{AnswererParams, InitiatorParams, LocalOffer, PeerLink};
pub use media::{h264_capability, RemoteTrack, H264_FMTP, H264_PAYLOAD_TYPE};
pub use network::{gather_network_settings, NetworkSettings};
pub use options::{
    InterfaceFilter, IpFilter, RtcOptions, SdpTransform, DEFAULT_RECEIVE_BUDGET,
    DEFAULT_SEND_HIGH_WATER_MARK,
};

/// What happens on a link, in order. `Open` precedes every `Message`; at most one of
/// `Closed` / `Failed` is emitted, and nothing after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// ICE gathering completed; the local candidates as `candidate:…` strings (may be empty).
    CandidatesGathered(Vec<String>),
    /// The data channel is open; `send` works now.
    Open,
    /// One data-channel message.
    Message(Bytes),
    /// The data channel or the connection closed.
    Closed,
    /// ICE or DTLS failed.
    Failed(String),
    /// The peer started sending a media track.
    Track(RemoteTrack),
    /// The peer asked for a key frame of a track we send (RTCP PLI or FIR).
    KeyframeRequested,
}

impl LinkEvent {
    /// A short name for logs (never the payload).
    pub fn name(&self) -> &'static str {
        match self {
            LinkEvent::CandidatesGathered(_) => "candidates-gathered",
            LinkEvent::Open => "open",
            LinkEvent::Message(_) => "message",
            LinkEvent::Closed => "closed",
            LinkEvent::Failed(_) => "failed",
            LinkEvent::Track(_) => "track",
            LinkEvent::KeyframeRequested => "keyframe-requested",
        }
    }
}
