//! Server configuration: a serde struct shared by the CLI and its TOML file.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The worker's monthly quota per origin when `ALLOWED_ORIGINS` is not set.
pub const DEFAULT_ORIGIN_QUOTA: u64 = 10_000;

/// How the server behaves. `Default` is the worker with no bindings: every origin allowed up to
/// 10 000 requests a month, in-memory rooms, 1 MiB request bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `ALLOWED_ORIGINS`: origins never limited (exact match of the `Origin` header).
    pub allowed_origins: Vec<String>,
    /// `ORIGIN_QUOTA`: requests per UTC calendar month for any other origin. `None` = the worker's
    /// rule: 10 000 without allowed origins, 0 (refused) with them.
    pub origin_quota: Option<u64>,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// Where rooms live.
    pub store: StoreConfig,
    /// Milliseconds between vacuum passes (the worker vacuums a room at most every 30 s).
    pub vacuum_interval_ms: u64,
    /// A connection must send its first request head within this many milliseconds (a
    /// WebSocket upgrade that never finishes is dropped).
    pub request_head_timeout_ms: u64,
    /// The PeerJS endpoint (TOML `[peerjs]`).
    pub peerjs: crate::peerjs::PeerJsConfig,
    /// Serve `GET /metrics` (Prometheus text format) on the main listener.
    pub metrics: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            origin_quota: None,
            max_body_bytes: 1024 * 1024,
            store: StoreConfig::Memory,
            vacuum_interval_ms: 30_000,
            request_head_timeout_ms: 10_000,
            peerjs: crate::peerjs::PeerJsConfig::default(),
            metrics: false,
        }
    }
}

impl ServerConfig {
    /// The quota that applies to origins outside `allowed_origins`.
    pub fn effective_origin_quota(&self) -> u64 {
        match (self.origin_quota, self.allowed_origins.is_empty()) {
            (Some(quota), _) => quota,
            (None, true) => DEFAULT_ORIGIN_QUOTA,
            (None, false) => 0,
        }
    }
}

/// Which store keeps the rooms. In TOML: `store = { type = "memory" }`,
/// `store = { type = "file", path = "/var/lib/p2pcf" }` or
/// `store = { type = "redis", url = "redis://127.0.0.1:6379/0" }`. As a string (CLI): `memory`,
/// `file:PATH`, or the Redis URL itself:
/// - `redis://[USER:PASSWORD@]HOST:PORT[/DB]` — one Redis server;
/// - `rediss://…` — the same over TLS (append `#insecure` to accept any certificate);
/// - `redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]` (or `rediss+cluster://…`) — a
///   Redis Cluster, from one or more seed nodes.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    /// In memory, lost on restart.
    #[default]
    Memory,
    /// In memory and written through to files under `path`; survives restarts.
    File { path: PathBuf },
    /// In Redis, shared by every server instance using the same `url`.
    Redis { url: String },
}

// Debug (the startup log line) hides a Redis password.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::File { path } => f.debug_struct("File").field("path", path).finish(),
            Self::Redis { url } => {
                let shown = match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        format!("{}://***@{}", &url[..scheme], &url[at + 1..])
                    }
                    _ => url.clone(),
                };
                f.debug_struct("Redis").field("url", &shown).finish()
            }
        }
    }
}

/// A `--store` value that is neither `memory`, `file:PATH` nor a Redis URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "invalid store {0:?}: expected `memory`, `file:PATH`, `redis://HOST:PORT[/DB]`, \
     `rediss://HOST:PORT[/DB]` or `redis+cluster://HOST:PORT[,HOST:PORT...]`"
)]
pub struct ParseStoreError(String);

impl FromStr for StoreConfig {
    type Err = ParseStoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "memory" => Ok(Self::Memory),
            Some(("file", path)) if !path.is_empty() => Ok(Self::File { path: path.into() }),
            Some(("redis" | "rediss" | "redis+cluster" | "rediss+cluster", rest))
                if rest.len() > 2 && rest.starts_with("//") =>
            {
                Ok(Self::Redis { url: s.to_owned() })
            }
            _ => Err(ParseStoreError(s.to_owned())),
        }
    }
}
