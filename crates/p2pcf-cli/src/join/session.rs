//! The running `join`: one loop owns the peer list and reacts to client events, stdin lines and
//! signals; sends run in tasks so a slow peer never stalls the loop.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use p2pcf_client::{ClientEvent, ClientHandle, SessionId};
use p2pcf_proto::file;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::output::{ErrorKind, Event, Output};
use super::{files, video};
use super::{OutgoingFile, Settings};

/// After the leave request, wait this long for the client's final events.
const FINAL_EVENTS_GRACE: Duration = Duration::from_secs(3);

struct Session {
    client: ClientHandle,
    output: Output,
    room: String,
    name: String,
    echo: bool,
    files: Vec<Arc<OutgoingFile>>,
    save_dir: PathBuf,
    /// Connected peers' client ids.
    peers: HashMap<SessionId, String>,
    /// Peers that were already offered the files (once per peer, even if they reconnect).
    offered: HashSet<SessionId>,
    /// Stdin ended: no new file offers, leave once pending sends are done.
    closing: bool,
    sends: JoinSet<()>,
    left: bool,
    /// Our shared video, if `--video` was given.
    video: Option<p2pcf_video::VideoSender>,
}

pub(crate) async fn run(settings: Settings) -> anyhow::Result<()> {
    let output = Output::new(settings.json);
    let name = settings.name.to_string();
    let (client, mut events) =
        p2pcf_client::join(settings.room.as_str(), &name, settings.options).await?;
    let mut session = Session {
        client: client.clone(),
        output,
        room: settings.room.to_string(),
        name,
        echo: settings.echo,
        files: settings.files.into_iter().map(Arc::new).collect(),
        save_dir: settings.save_dir,
        peers: HashMap::new(),
        offered: HashSet::new(),
        closing: false,
        sends: JoinSet::new(),
        left: false,
        video: None,
    };
    if let Some(spec) = &settings.video {
        session.video = Some(spec.start(&client).await?);
        session.output.emit(&Event::VideoSharing {
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
        });
    }

    let lines = stdin_lines();
    let mut stdin_done = tokio::spawn(broadcast_lines(
        client.clone(),
        session.output.clone(),
        lines,
    ));
    let shutdown = crate::signal::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        if session.closing && session.sends.is_empty() {
            break;
        }
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => session.handle(event).await,
                None => break,
            },
            _ = &mut stdin_done, if !session.closing => {
                tracing::debug!("stdin closed; leaving once pending sends finish");
                session.closing = true;
            }
            Some(_) = session.sends.join_next(), if !session.sends.is_empty() => {}
            _ = &mut shutdown => {
                tracing::debug!("signal received; leaving");
                break;
            }
        }
        if session.left {
            return Ok(());
        }
    }
    session.sends.abort_all();
    client.leave().await;
    // Report what the client still says (peers closed, left), briefly.
    let deadline = tokio::time::Instant::now() + FINAL_EVENTS_GRACE;
    while !session.left {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => session.handle(event).await,
            Ok(None) | Err(_) => break,
        }
    }
    if !session.left {
        session.output.emit(&Event::Left);
    }
    Ok(())
}

impl Session {
    async fn handle(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Joined { session_id } => self.output.emit(&Event::Joined {
                room: self.room.clone(),
                session_id: session_id.to_string(),
                client_id: self.name.clone(),
            }),
            ClientEvent::PeerConnecting {
                session_id,
                client_id,
            } => self.output.emit(&Event::PeerConnecting {
                session_id: session_id.to_string(),
                client_id: client_id.to_string(),
            }),
            ClientEvent::PeerFailed {
                session_id,
                client_id,
                reason,
            } => self.output.emit(&Event::PeerFailed {
                session_id: session_id.to_string(),
                client_id: client_id.to_string(),
                reason,
            }),
            ClientEvent::PeerConnected {
                session_id,
                client_id,
            } => {
                let client_id = client_id.to_string();
                self.peers.insert(session_id.clone(), client_id.clone());
                self.output.emit(&Event::PeerConnected {
                    session_id: session_id.to_string(),
                    client_id: client_id.clone(),
                });
                if !self.closing && self.offered.insert(session_id.clone()) {
                    for file in &self.files {
                        self.sends.spawn(files::send(
                            self.client.clone(),
                            self.output.clone(),
                            session_id.clone(),
                            client_id.clone(),
                            Arc::clone(file),
                        ));
                    }
                }
            }
            ClientEvent::PeerClosed {
                session_id,
                client_id,
            } => {
                self.peers.remove(&session_id);
                self.output.emit(&Event::PeerClosed {
                    session_id: session_id.to_string(),
                    client_id: client_id.to_string(),
                });
            }
            ClientEvent::Message { from, data } => self.message(from, data).await,
            ClientEvent::SignallingError { status, text, .. } => self.output.emit(&Event::Error {
                kind: if status.is_some() {
                    ErrorKind::Rejected
                } else {
                    ErrorKind::Unreachable
                },
                status,
                text,
                peer: None,
            }),
            ClientEvent::SignallingRecovered => self.output.emit(&Event::SignallingRecovered),
            ClientEvent::MessageDropped { from, reason } => self.output.emit(&Event::Error {
                kind: ErrorKind::MessageDropped,
                status: None,
                text: format!("message from {} dropped: {reason}", self.client_id(&from)),
                peer: Some(from.to_string()),
            }),
            ClientEvent::TrackStarted { from, track } => {
                let client_id = self.client_id(&from);
                tokio::spawn(video::watch_track(
                    self.output.clone(),
                    from.to_string(),
                    client_id,
                    track,
                ));
            }
            ClientEvent::KeyframeRequested { .. } => {
                if let Some(video) = &self.video {
                    video.request_keyframe();
                }
            }
            ClientEvent::Left => {
                self.left = true;
                self.output.emit(&Event::Left);
            }
        }
    }

    fn client_id(&self, session: &SessionId) -> String {
        self.peers
            .get(session)
            .cloned()
            .unwrap_or_else(|| session.to_string())
    }

    async fn message(&mut self, from: SessionId, data: Bytes) {
        let client_id = self.client_id(&from);
        if file::is_file_message(&data) {
            files::receive(&self.output, &self.save_dir, &from, &client_id, &data).await;
        } else {
            self.output.emit(&Event::Message {
                from: from.to_string(),
                client_id: client_id.clone(),
                size: data.len() as u64,
                sha256: file::sha256_hex(&data),
                text: std::str::from_utf8(&data).ok().map(str::to_owned),
            });
        }
        if self.echo {
            let (client, output) = (self.client.clone(), self.output.clone());
            self.sends.spawn(async move {
                if let Err(e) = client.send(&from, data).await {
                    output.emit(&Event::Error {
                        kind: ErrorKind::Send,
                        status: None,
                        text: format!("echo to {client_id} failed: {e}"),
                        peer: Some(from.to_string()),
                    });
                }
            });
        }
    }
}

/// Stdin lines (without line endings; invalid UTF-8 replaced), read on a plain thread because
/// a blocking read cannot be cancelled. The channel closes at EOF.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdin.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']);
                    if tx.send(line.to_owned()).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("reading stdin: {e}");
                    break;
                }
            }
        }
    });
    rx
}

/// Broadcasts each non-empty line, in order; returns at EOF.
async fn broadcast_lines(
    client: ClientHandle,
    output: Output,
    mut lines: mpsc::UnboundedReceiver<String>,
) {
    while let Some(line) = lines.recv().await {
        if line.is_empty() {
            continue;
        }
        match client.broadcast(line.into_bytes()).await {
            Ok(outcomes) if outcomes.is_empty() => output.emit(&Event::Error {
                kind: ErrorKind::NoPeers,
                status: None,
                text: "no peer connected; the line was not sent".into(),
                peer: None,
            }),
            Ok(outcomes) => {
                for (peer, outcome) in outcomes {
                    if let Err(e) = outcome {
                        output.emit(&Event::Error {
                            kind: ErrorKind::Send,
                            status: None,
                            text: format!("sending to {peer} failed: {e}"),
                            peer: Some(peer.to_string()),
                        });
                    }
                }
            }
            Err(e) => {
                tracing::debug!("broadcast: {e}");
                break;
            }
        }
    }
}
