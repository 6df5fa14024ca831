//! PeerJS endpoint configuration: a serde struct shared by the CLI, its TOML file (`[peerjs]`)
//! and the desktop app.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How the PeerJS endpoint behaves. `Default` is the official `peer` 1.0.2 server's library
/// defaults (key `peerjs`, expire 5000 ms, alive 90000 ms, no discovery, UUID ids) at path
/// `/peerjs`, with our limits (see each field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeerJsConfig {
    /// Serve PeerJS at all (`--no-peerjs` turns it off).
    pub enabled: bool,
    /// Where the endpoint lives: `GET {path}`, `GET {path}{key}/id`, WebSocket `{path}peerjs`.
    /// Normalised by [`PeerJsConfig::normalized_path`] to start and end with `/`.
    pub path: String,
    /// The key clients must send on the WebSocket (`?key=`); the HTTP routes accept any key.
    pub key: String,
    /// Messages for an id nobody holds wait this long, then each sender gets one `EXPIRE`.
    pub expire_timeout_ms: u64,
    /// A client that sent no `HEARTBEAT` for this long is disconnected.
    pub alive_timeout_ms: u64,
    /// At most this many registered ids; more get `ERROR` "Server has reached its concurrent
    /// user limit" and are closed. The official default is 5000; ours is 200 000.
    pub concurrent_limit: usize,
    /// Answer `GET {path}{key}/peers` with the registered ids (otherwise 401).
    pub allow_discovery: bool,
    /// The ids `GET {path}{key}/id` hands out.
    pub ids: PeerIdStyle,
    /// Larger WebSocket messages close that socket with 1009 (the official server allows 100 MiB).
    pub max_frame_bytes: usize,
    /// Offline queue cap: messages waiting for one destination id.
    pub queue_max_messages_per_peer: usize,
    /// Offline queue cap: bytes waiting for one destination id.
    pub queue_max_bytes_per_peer: usize,
    /// Offline queue cap: messages one sender has waiting, over all destinations.
    pub queue_max_messages_per_sender: usize,
    /// Offline queue cap: bytes one sender has waiting, over all destinations.
    pub queue_max_bytes_per_sender: usize,
    /// Offline queue cap: bytes waiting in the whole server.
    pub queue_max_bytes_total: usize,
    /// Frames waiting to be written to one socket; a socket that falls this far behind is
    /// treated as dead (closed, and the sender gets `LEAVE`).
    pub socket_send_queue: usize,
}

impl Default for PeerJsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "/peerjs".into(),
            key: "peerjs".into(),
            expire_timeout_ms: 5000,
            alive_timeout_ms: 90_000,
            concurrent_limit: 200_000,
            allow_discovery: false,
            ids: PeerIdStyle::Uuid,
            max_frame_bytes: 64 * 1024,
            queue_max_messages_per_peer: 128,
            queue_max_bytes_per_peer: 256 * 1024,
            queue_max_messages_per_sender: 512,
            queue_max_bytes_per_sender: 1024 * 1024,
            queue_max_bytes_total: 64 * 1024 * 1024,
            socket_send_queue: 256,
        }
    }
}

impl PeerJsConfig {
    /// `path` starting and ending with `/` (as the PeerJS client normalises its `path`).
    pub fn normalized_path(&self) -> String {
        let trimmed = self.path.trim_matches('/');
        if trimmed.is_empty() {
            "/".into()
        } else {
            format!("/{trimmed}/")
        }
    }
}

/// Which ids `GET {path}{key}/id` generates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerIdStyle {
    /// `crypto.randomUUID()` like the official server: 36 characters, 122 random bits.
    #[default]
    Uuid,
    /// 8 Crockford Base32 characters (40 random bits), easy to read over the phone.
    Short,
}

/// A `--peerjs-ids` value that is neither `uuid` nor `short`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid id style {0:?}: expected `uuid` or `short`")]
pub struct ParseIdStyleError(String);

impl FromStr for PeerIdStyle {
    type Err = ParseIdStyleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "uuid" => Ok(Self::Uuid),
            "short" => Ok(Self::Short),
            _ => Err(ParseIdStyleError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_normalised_to_slashes_on_both_ends() {
        let mut config = PeerJsConfig::default();
        assert_eq!(config.normalized_path(), "/peerjs/");
        config.path = "a/b".into();
        assert_eq!(config.normalized_path(), "/a/b/");
        config.path = "/".into();
        assert_eq!(config.normalized_path(), "/");
        config.path = String::new();
        assert_eq!(config.normalized_path(), "/");
    }

    #[test]
    fn id_style_parses_from_flag_text() {
        assert_eq!("uuid".parse::<PeerIdStyle>().ok(), Some(PeerIdStyle::Uuid));
        assert_eq!(
            "short".parse::<PeerIdStyle>().ok(),
            Some(PeerIdStyle::Short)
        );
        assert!("long".parse::<PeerIdStyle>().is_err());
    }

    #[test]
    fn toml_style_names_are_lowercase() {
        let json = serde_json::to_string(&PeerIdStyle::Short).unwrap_or_default();
        assert_eq!(json, "\"short\"");
    }
}
