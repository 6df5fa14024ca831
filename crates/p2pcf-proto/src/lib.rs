//! P2PCF, wire-compatible with the JavaScript `p2pcf` 1.3.14 client and its Cloudflare
//! worker, without I/O: no sockets, no clock reads, no global RNG. Drivers (the client
//! crate, tests) feed in time and network results and carry out the outputs.
//!
//! - [`wire`]: the worker's JSON (`{r, k, dk?, d?, t?, x?, p?}` → `{ps, pk, dk?}`), with
//!   the exact array shapes, parsed leniently.
//! - [`session`]: the poll protocol state machine ([`session::Session`]): polling rates,
//!   publish/heartbeat, roles A/B, packages, connect timeouts, leave.
//! - [`chunk`]: the data-channel chunk codec ([`chunk::split`], [`chunk::Reassembler`]).
//! - [`signal`]: the in-channel signal framing and simple-peer signal shapes.
//! - [`sdp`]: `createSdp`, fingerprints, candidates, network settings, random ids.
//! - [`file`]: the file-transfer message (magic, JSON header, bytes) and name sanitizing.
//! - [`config`]: [`config::ClientConfig`] with the JS defaults.
//!
//! # Example
//!
//! ```
//! use p2pcf_proto::config::ClientConfig;
//! use p2pcf_proto::sdp::NetworkSettings;
//! use p2pcf_proto::session::{Input, LocalIdentity, Output, Session};
//! use p2pcf_proto::wire::PollResponse;
//! use p2pcf_proto::{ClientId, ContextId, RoomId, SessionId};
//!
//! let now = 1_700_000_000_000;
//! let identity = LocalIdentity {
//!     room_id: RoomId::new("my-room")?,
//!     session_id: SessionId::from_wire("c2Vzc2lvbg"),
//!     context_id: ContextId::from_wire("Y29udGV4dA"),
//!     client_id: ClientId::new("alice")?,
//!     dtls_fingerprint_b64: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
//!     joined_at_ms: now,
//! };
//! let config = ClientConfig::default().validate()?;
//! let mut session = Session::new(config, identity, [7; 32]);
//!
//! // Polling starts with the first network settings (from a STUN probe).
//! let settings = NetworkSettings { udp_enabled: true, is_symmetric: false,
//!                                  reflexive_ips: vec!["203.0.113.5".into()] };
//! session.handle_input(Input::NetworkSettings { now, settings });
//!
//! // The driver POSTs the body and feeds the answer back.
//! let Some(Output::SendRequest { id, body, leave }) = session.poll_output() else { panic!() };
//! assert_eq!(body.to_json(), r#"{"r":"my-room","k":"Y29udGV4dA"}"#);
//! assert!(!leave);
//! let response = PollResponse::from_json(br#"{"ps":[],"pk":[]}"#)?;
//! session.handle_input(Input::PollSucceeded { now: now + 80, request_id: id, response });
//!
//! // An empty room: publish at once.
//! let Some(Output::SendRequest { body, .. }) = session.poll_output() else { panic!() };
//! assert!(body.data.is_some() && body.packages.is_some());
//!
//! // Data channel side: chunk outgoing messages, reassemble incoming ones per peer.
//! use p2pcf_proto::chunk::{self, ChunkOutcome, Reassembler};
//! let message = vec![1u8; 40_000];
//! let mut reassembler = Reassembler::default();
//! let mut received = None;
//! for frame in chunk::split(&message, 42) {
//!     if let ChunkOutcome::Complete(m) = reassembler.push(now, &frame)? {
//!         received = Some(m);
//!     }
//! }
//! assert_eq!(received, Some(message));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod chunk;
pub mod config;
mod error;
pub mod file;
pub mod ice;
mod ids;
pub mod negotiation;
pub mod sdp;
pub mod session;
pub mod signal;
pub mod wire;

pub use error::ProtoError;
pub use ice::IceServer;
pub use ids::{ClientId, ContextId, RoomId, SessionId};
