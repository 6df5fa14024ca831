//! P2PCF wire types, the sans-IO poll protocol, the chunk codec and data-channel framing. No I/O.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod chunk;
pub mod config;
mod error;
pub mod ice;
mod ids;
pub mod sdp;
pub mod signal;
pub mod wire;

pub use error::ProtoError;
pub use ice::IceServer;
pub use ids::{ClientId, ContextId, RoomId, SessionId};
