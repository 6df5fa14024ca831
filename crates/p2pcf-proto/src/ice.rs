//! ICE server descriptions, as P2PCF's `stunIceServers` / `turnIceServers` options take them.

use serde::{Deserialize, Serialize};

/// One ICE server entry (`{ urls, username?, credential? }` in the JS API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IceServer {
    /// `stun:host:port` or `turn:host:port[?transport=tcp]` URLs.
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}
