//! The one event channel from the backend to the UI: every [`AppEvent`] is emitted as the Tauri
//! event [`EVENT`], tagged by `type`.

use serde::Serialize;
use tauri::{AppHandle, Emitter};

/// The Tauri event name the UI listens to.
pub const EVENT: &str = "p2pcf://event";

/// Connection state shown in the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Connection {
    /// Joining: publishing our entry, waiting for the signalling server.
    Connecting,
    /// Our entry is published; `peers` peers connected.
    Connected,
    /// The signalling server does not answer; the client keeps retrying.
    Unreachable,
    /// Not in a room.
    Left,
}

/// Something the UI shows.
#[derive(Debug, Clone, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum AppEvent {
    Status {
        connection: Connection,
        peers: usize,
        text: String,
    },
    /// A connection to this peer is being set up (first try or a retry).
    PeerConnecting {
        session_id: String,
        name: String,
    },
    /// Setting up the connection failed before it opened; P2PCF may retry while the peer stays
    /// in the room (a new `PeerConnecting` then follows).
    PeerFailed {
        session_id: String,
        name: String,
        reason: String,
    },
    PeerConnected {
        session_id: String,
        name: String,
    },
    PeerClosed {
        session_id: String,
        name: String,
    },
    Message {
        from: String,
        name: String,
        text: String,
    },
    FileProgress {
        transfer_id: u64,
        peer: String,
        file_name: String,
        sent: u64,
        total: u64,
    },
    FileSent {
        transfer_id: u64,
        peer: String,
        file_name: String,
        size: u64,
    },
    /// Sending a file to one peer failed (the transfer's progress bar shows why).
    FileFailed {
        transfer_id: u64,
        peer: String,
        file_name: String,
        total: u64,
        reason: String,
    },
    FileReceived {
        from: String,
        name: String,
        file_name: String,
        size: u64,
        path: String,
    },
    /// Files dropped on the window (the UI decides to send them).
    FilesDropped {
        paths: Vec<String>,
    },
    /// A peer's video track is shown in tile `tile` (its frames come over the video channel).
    VideoStarted {
        tile: u32,
        session_id: String,
        name: String,
    },
    /// Tile `tile` is gone: the track ended, the peer left, or we left.
    VideoEnded {
        tile: u32,
        session_id: String,
        name: String,
        reason: String,
    },
    Error {
        text: String,
    },
    Left,
}

/// Emits `event` to every window; a closed window is not an error worth more than a log line.
pub fn emit(app: &AppHandle, event: AppEvent) {
    if let Err(e) = app.emit(EVENT, &event) {
        tracing::warn!(error = %e, "cannot emit event");
    }
}
