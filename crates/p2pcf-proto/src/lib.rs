//! P2PCF wire types, the sans-IO poll protocol, the chunk codec and data-channel framing. No I/O.

pub mod ice;

pub use ice::IceServer;
