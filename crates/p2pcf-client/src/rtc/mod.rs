//! The webrtc-rs (0.21) adapter: peer connections set up the way P2PCF does it, with no
//! protocol policy.
//!
//! * [`LocalCertificate`]: one ECDSA P-256 certificate per client, published by fingerprint.
//! * [`gather_network_settings`]: the throw-away probe behind `udpEnabled` / `isSymmetric` /
//!   `reflexiveIps` (classified by [`p2pcf_proto::sdp::NetworkSettings`]).
//! * [`PeerLink::initiator`] (peer B) and [`PeerLink::answerer`] (peer A): the minimal handshake
//!   of P2PCF, where each side invents the other's description from a few published values
//!   (built by [`p2pcf_proto::sdp`]). Events arrive on one channel as `(LinkKey, LinkEvent)`.
//! * [`LocalTrack`] / [`RemoteTrack`]: H.264 video on the links.
//!
//! Callbacks from webrtc-rs only forward into an internal channel; one task per link turns that
//! into [`LinkEvent`]s (see `link_state`).

mod budget;
mod cert;
mod error;
mod keyframe;
mod link;
mod link_state;
mod local_track;
mod media;
mod network;
mod options;
mod socket;

use bytes::Bytes;
use p2pcf_proto::SessionId;

pub use budget::ReceiveBudget;
pub use cert::LocalCertificate;
pub use error::RtcError;
pub use link::{AnswererParams, InitiatorParams, LinkEvents, LocalOffer, PeerLink};
pub use local_track::LocalTrack;
pub use media::{h264_capability, RemoteTrack, TrackSender, H264_FMTP, H264_PAYLOAD_TYPE};
pub use network::gather_network_settings;
pub use options::{
    InterfaceFilter, IpFilter, RtcOptions, SdpTransform, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_RECEIVE_BUDGET, DEFAULT_SCTP_RECEIVE_WINDOW, DEFAULT_SEND_HIGH_WATER_MARK,
    DEFAULT_UDP_RECEIVE_BUFFER, STOCK_LINUX_UDP_RECEIVE_BUFFER,
};
pub use p2pcf_proto::sdp::NetworkSettings;
pub use socket::SocketReport;

/// Which connection to a peer an event belongs to: the peer, and a generation that changes
/// each time the connection is recreated (so a recreated peer ignores the old link's events).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkKey {
    /// The remote peer.
    pub peer: SessionId,
    /// Counts connections made by one client.
    pub generation: u64,
}

impl std::fmt::Display for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.peer, self.generation)
    }
}

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
