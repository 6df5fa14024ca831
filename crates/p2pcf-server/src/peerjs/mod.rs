//! PeerJS signalling (wire-compatible with npm `peer` 1.0.2).
//!
//! [`realm::Realm`] is the protocol as a sans-IO state machine over [`registry::Registry`] (ids)
//! and [`queue::OfflineQueues`] (messages for offline ids); [`wire`] holds every wire rule.

pub mod config;
mod http;
mod hub;
pub mod ids;
pub mod queue;
pub mod realm;
pub mod registry;
mod socket;
pub mod wire;

pub use config::{PeerIdStyle, PeerJsConfig};
pub(crate) use http::{claims, handle};
pub use hub::Hub;
