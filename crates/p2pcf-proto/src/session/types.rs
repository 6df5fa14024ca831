//! Inputs, outputs and events of the [`Session`](super::Session) state machine.

use crate::sdp::NetworkSettings;
use crate::wire::{PollRequest, PollResponse};
use crate::{ClientId, ContextId, IceServer, RoomId, SessionId};

/// Identifies a request handed out in [`Output::SendRequest`].
pub type RequestId = u64;

/// Who this client is, fixed for the life of a [`Session`](super::Session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    pub room_id: RoomId,
    pub session_id: SessionId,
    pub context_id: ContextId,
    pub client_id: ClientId,
    /// Base64 of the SHA-256 fingerprint of the DTLS certificate used for every peer.
    pub dtls_fingerprint_b64: String,
    /// Wall-clock ms at start (`startedAtTimestamp`, published as `joinedAt`).
    pub joined_at_ms: u64,
}

/// Why a polling request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollError {
    /// HTTP status, `None` when the worker was not reached or the body was unreadable.
    pub status: Option<u16>,
    /// The worker's text (e.g. `Bad room id …`) or the transport error.
    pub text: String,
}

/// Everything that happens to a session. Each carries the wall-clock time in ms.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Time passed (call at or after [`Session::poll_timeout`](super::Session::poll_timeout)).
    Timeout { now: u64 },
    /// Result of a network-settings probe. The first one starts polling; a change forces a
    /// re-publish.
    NetworkSettings { now: u64, settings: NetworkSettings },
    /// The worker answered request `request_id`.
    PollSucceeded {
        now: u64,
        request_id: RequestId,
        response: PollResponse,
    },
    /// Request `request_id` failed (unreachable, non-2xx, or unreadable body).
    PollFailed {
        now: u64,
        request_id: RequestId,
        error: PollError,
    },
    /// Peer B (initiator): the offer is set locally, the synthetic answer is set remotely,
    /// and ICE gathering finished. `ufrag`/`pwd`/`dtls_fingerprint_b64` come from the local
    /// offer (see [`crate::sdp::offer_credentials`]); `candidates` are all gathered ones.
    InitiatorReady {
        now: u64,
        peer: SessionId,
        ufrag: String,
        pwd: String,
        dtls_fingerprint_b64: String,
        candidates: Vec<String>,
    },
    /// Peer A (answerer): ICE gathering finished with these candidates.
    AnswererCandidates {
        now: u64,
        peer: SessionId,
        candidates: Vec<String>,
    },
    /// The data channel to `peer` opened.
    PeerConnected { now: u64, peer: SessionId },
    /// The connection to `peer` closed (by either side).
    PeerClosed { now: u64, peer: SessionId },
    /// Leave the room: destroy peers and send the leave request (if a delete key is known).
    Leave { now: u64 },
    /// The server announced that the room changed (our server's long-poll extension): poll
    /// now instead of at the next scheduled step.
    RoomChanged { now: u64 },
}

impl Input {
    /// The time this input carries.
    pub fn now(&self) -> u64 {
        match self {
            Input::Timeout { now }
            | Input::NetworkSettings { now, .. }
            | Input::PollSucceeded { now, .. }
            | Input::PollFailed { now, .. }
            | Input::InitiatorReady { now, .. }
            | Input::AnswererCandidates { now, .. }
            | Input::PeerConnected { now, .. }
            | Input::PeerClosed { now, .. }
            | Input::Leave { now }
            | Input::RoomChanged { now } => *now,
        }
    }
}

/// Peer B's instructions: create an initiating peer connection with a data channel, make
/// and set the offer, then set as remote description
/// [`crate::sdp::synthetic_answer`]`(ufrag_for_remote, pwd_for_remote, remote_dtls_fingerprint_b64, remote_reflexive_ips)`.
/// Report [`Input::InitiatorReady`] when gathering completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateInitiator {
    pub peer: SessionId,
    pub client_id: ClientId,
    pub ice_servers: Vec<IceServer>,
    pub ufrag_for_remote: String,
    pub pwd_for_remote: String,
    pub remote_dtls_fingerprint_b64: String,
    pub remote_reflexive_ips: Vec<String>,
}

/// Peer A's instructions: create a non-initiating peer connection, set as remote offer
/// [`crate::sdp::create_sdp`]`(true, remote_ufrag, remote_pwd, remote_dtls_fingerprint_b64)`,
/// add `remote_candidates`, answer with the ICE credentials replaced by
/// `local_ufrag`/`local_pwd` ([`crate::sdp::munge_ice_credentials`]). Report
/// [`Input::AnswererCandidates`] when gathering completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAnswerer {
    pub peer: SessionId,
    pub client_id: ClientId,
    pub ice_servers: Vec<IceServer>,
    pub remote_ufrag: String,
    pub remote_pwd: String,
    pub remote_dtls_fingerprint_b64: String,
    pub remote_candidates: Vec<String>,
    pub local_ufrag: String,
    pub local_pwd: String,
}

/// Why the session asks to destroy a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestroyReason {
    /// Not connected within `connect_timeout_ms` of creation.
    ConnectTimeout,
    /// Not connected and no longer in the worker's peer list.
    NotInPeerList,
    /// The session is leaving the room.
    Leaving,
}

/// Things the application may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The worker stored our entry; the delete key was learned (first time only).
    Published { delete_key: String },
    /// A polling request failed; polling retries at the slow rate.
    SignallingError {
        status: Option<u16>,
        text: String,
        consecutive_failures: u32,
    },
    /// A request succeeded after failures.
    SignallingRecovered { after_failures: u32 },
    /// The session left. `delete_key_sent` says whether a leave request was sent, and
    /// `error` whether it failed.
    Left {
        delete_key_sent: bool,
        error: Option<PollError>,
    },
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// POST `body.to_json()` to the worker with `Content-Type: application/json`; when
    /// `leave`, add the header `X-Worker-Method: DELETE`. Answer with
    /// [`Input::PollSucceeded`] or [`Input::PollFailed`].
    SendRequest {
        id: RequestId,
        body: PollRequest,
        leave: bool,
    },
    CreateInitiator(CreateInitiator),
    CreateAnswerer(CreateAnswerer),
    /// Peer B: add peer A's candidates.
    AddRemoteCandidates {
        peer: SessionId,
        candidates: Vec<String>,
    },
    /// Close and forget the peer connection.
    DestroyPeer {
        peer: SessionId,
        reason: DestroyReason,
    },
    Event(SessionEvent),
}
