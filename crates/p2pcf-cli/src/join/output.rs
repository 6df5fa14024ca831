//! What `join` prints: one JSON object per line on stdout (`--json`), or chat lines on stdout and
//! status lines (and a progress bar when stderr is a terminal) on stderr.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// One line of `--json` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    Joined {
        room: String,
        session_id: String,
        client_id: String,
    },
    PeerConnecting {
        session_id: String,
        client_id: String,
    },
    TrackStarted {
        from: String,
        client_id: String,
        kind: String,
    },
    VideoStats {
        from: String,
        client_id: String,
        fps: f64,
        frames: u64,
        width: u32,
        height: u32,
        dropped: u64,
        decode_errors: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        latency_ms: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stamp_frame: Option<u32>,
    },
    TrackEnded {
        from: String,
        client_id: String,
        frames: u64,
    },
    VideoSharing {
        width: u32,
        height: u32,
        fps: u32,
    },
    PeerFailed {
        session_id: String,
        client_id: String,
        reason: String,
    },
    PeerConnected {
        session_id: String,
        client_id: String,
    },
    PeerClosed {
        session_id: String,
        client_id: String,
    },
    Message {
        from: String,
        client_id: String,
        size: u64,
        sha256: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    FileReceived {
        from: String,
        client_id: String,
        name: String,
        size: u64,
        sha256: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mime: Option<String>,
        path: String,
    },
    FileProgress {
        to: String,
        client_id: String,
        name: String,
        sent: u64,
        total: u64,
    },
    FileSent {
        to: String,
        client_id: String,
        name: String,
        size: u64,
        sha256: String,
    },
    Error {
        kind: ErrorKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        text: String,
        /// The peer concerned, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
    },
    SignallingRecovered,
    Left,
}

/// The `kind` of an `error` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    /// The worker could not be reached (no HTTP status).
    Unreachable,
    /// The worker answered with an error status.
    Rejected,
    /// A peer sent a file message that is malformed or fails its size/sha256 check.
    FileInvalid,
    /// A received file could not be written.
    FileSave,
    /// Sending a file to a peer failed.
    FileSend,
    /// Sending a message (a stdin line or an echo) failed.
    Send,
    /// A stdin line was typed while no peer was connected.
    NoPeers,
    /// The client dropped a message from a peer (malformed chunks, over the size limit).
    MessageDropped,
}

/// Prints events; cheap to clone and shared by the session's tasks.
#[derive(Clone)]
pub(crate) struct Output {
    json: bool,
    progress_bar: bool,
    /// A progress bar is drawn on stderr and needs erasing before other stderr lines.
    bar_drawn: Arc<Mutex<bool>>,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            progress_bar: !json && std::io::stderr().is_terminal(),
            bar_drawn: Arc::default(),
        }
    }

    pub fn emit(&self, event: &Event) {
        if self.json {
            // Serializing this enum cannot fail; a closed stdout is not worth a panic either.
            if let Ok(line) = serde_json::to_string(event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}").and_then(|()| out.flush());
            }
            return;
        }
        match human(event) {
            Line::Stdout(line) => {
                self.clear_bar();
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}").and_then(|()| out.flush());
            }
            Line::Stderr(line) => {
                self.clear_bar();
                eprintln!("{line}");
            }
            Line::Progress(line) => {
                if self.progress_bar {
                    let mut drawn = self.bar_drawn.lock().unwrap_or_else(|e| e.into_inner());
                    eprint!("\r\x1b[K{line}");
                    *drawn = true;
                }
            }
        }
    }

    fn clear_bar(&self) {
        let mut drawn = self.bar_drawn.lock().unwrap_or_else(|e| e.into_inner());
        if *drawn {
            eprint!("\r\x1b[K");
            *drawn = false;
        }
    }
}

enum Line {
    Stdout(String),
    Stderr(String),
    Progress(String),
}

fn human(event: &Event) -> Line {
    use Line::{Progress, Stderr, Stdout};
    match event {
        Event::Joined {
            room,
            session_id,
            client_id,
        } => Stderr(format!(
            "* joined room {room} as {client_id} (session {session_id}); type to chat, Ctrl-D to leave"
        )),
        Event::PeerConnecting { client_id, .. } => Stderr(format!("* connecting to {client_id}")),
        Event::TrackStarted {
            client_id, kind, ..
        } => Stderr(format!("* {client_id} started sending {kind}")),
        Event::VideoStats {
            client_id,
            fps,
            width,
            height,
            ..
        } => Stderr(format!("* video from {client_id}: {width}x{height} at {fps} fps")),
        Event::TrackEnded { client_id, .. } => Stderr(format!("* {client_id} stopped sending video")),
        Event::VideoSharing { width, height, fps } => {
            Stderr(format!("* sharing video {width}x{height} at {fps} fps"))
        }
        Event::PeerFailed {
            client_id, reason, ..
        } => Stderr(format!("* could not connect to {client_id}: {reason}")),
        Event::PeerConnected { client_id, .. } => Stderr(format!("* {client_id} connected")),
        Event::PeerClosed { client_id, .. } => Stderr(format!("* {client_id} left")),
        Event::Message {
            client_id,
            size,
            sha256,
            text,
            ..
        } => Stdout(match text {
            Some(text) => format!("[{client_id}] {}", printable(text)),
            None => format!("[{client_id}] <binary message, {size} bytes, sha256 {sha256}>"),
        }),
        Event::FileReceived {
            client_id,
            name,
            size,
            path,
            ..
        } => Stdout(format!(
            "[{client_id}] <file {}, {size} bytes, saved to {}>",
            printable(name),
            printable(path)
        )),
        Event::FileProgress {
            client_id,
            name,
            sent,
            total,
            ..
        } => Progress(progress_line(name, client_id, *sent, *total)),
        Event::FileSent {
            client_id,
            name,
            size,
            ..
        } => Stderr(format!("* sent {name} ({size} bytes) to {client_id}")),
        Event::Error {
            kind, status, text, ..
        } => Stderr(match (kind, status) {
            (ErrorKind::Unreachable, _) => format!("! signalling server unreachable: {text}"),
            (ErrorKind::Rejected, Some(status)) => {
                format!("! signalling server refused the request ({status}): {text}")
            }
            _ => format!("! {}", printable(text)),
        }),
        Event::SignallingRecovered => Stderr("* signalling server reachable again".into()),
        Event::Left => Stderr("* left the room".into()),
    }
}

/// Peer-provided text without terminal control characters (escape sequences stay inert).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

fn progress_line(name: &str, peer: &str, sent: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let sent = sent.min(total);
    let filled = (sent * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let percent = (sent * 100).checked_div(total).unwrap_or(100);
    format!(
        "{name} -> {peer} [{}{}] {percent:>3}% {}/{}",
        "#".repeat(filled as usize),
        " ".repeat((WIDTH - filled) as usize),
        human_bytes(sent),
        human_bytes(total)
    )
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_events_have_the_documented_shapes() {
        let message = Event::Message {
            from: "S1".into(),
            client_id: "alice".into(),
            size: 2,
            sha256: "ab".into(),
            text: None,
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            serde_json::json!({"event":"message","from":"S1","client_id":"alice","size":2,"sha256":"ab"})
        );
        let error = Event::Error {
            kind: ErrorKind::Rejected,
            status: Some(400),
            text: "Invalid room".into(),
            peer: None,
        };
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({"event":"error","kind":"rejected","status":400,"text":"Invalid room"})
        );
        assert_eq!(
            serde_json::to_value(Event::Left).unwrap(),
            serde_json::json!({"event":"left"})
        );
    }

    #[test]
    fn human_lines_neutralize_control_characters() {
        let Line::Stdout(line) = human(&Event::Message {
            from: "S".into(),
            client_id: "bob1".into(),
            size: 9,
            sha256: String::new(),
            text: Some("hi\x1b[2Jx\n".into()),
        }) else {
            panic!("a message goes to stdout");
        };
        assert_eq!(line, "[bob1] hi?[2Jx?");
    }

    #[test]
    fn progress_bar_and_sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        let line = progress_line("f.bin", "bob1", 50, 100);
        assert!(
            line.contains(" 50%") && line.contains(&"#".repeat(15)),
            "{line}"
        );
        assert!(progress_line("e", "p", 0, 0).contains("100%"));
    }
}
