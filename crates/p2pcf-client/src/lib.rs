//! The P2PCF client: HTTP polling transport, webrtc-rs peer connections and the public async handle.
//!
//! ```no_run
//! # async fn demo() -> Result<(), p2pcf_client::ClientError> {
//! use p2pcf_client::{join, ClientEvent, JoinOptions};
//! let mut options = JoinOptions::default();
//! options.config.worker_url = "http://127.0.0.1:8787".into();
//! options.config.stun_ice_servers = vec![];
//! let (client, mut events) = join("my-room", "alice", options).await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         ClientEvent::PeerConnected { session_id, .. } => {
//!             client.send(&session_id, &b"hello"[..]).await?;
//!         }
//!         ClientEvent::Message { from, data } => println!("{from}: {} bytes", data.len()),
//!         _ => {}
//!     }
//! }
//! client.leave().await;
//! # Ok(()) }
//! ```
//!
//! The protocol logic lives in the sans-IO [`p2pcf_proto::session::Session`]; this crate is the
//! driver around it: [`transport`] (HTTP to the worker), [`rtc`] (webrtc-rs peer connections)
//! and the handle in [`client`].

pub mod client;
mod driver;
pub mod files;
mod outgoing;
pub mod rtc;
pub mod transport;

pub use client::{
    join, join_with_transport, ClientError, ClientEvent, ClientHandle, JoinOptions, LocalTrack,
};
pub use p2pcf_proto::config::ClientConfig;
pub use p2pcf_proto::{ClientId, SessionId};
pub use rtc::RemoteTrack;
