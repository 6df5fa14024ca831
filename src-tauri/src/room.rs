//! A joined room: the client handle, the peer names, our video sender and the peers' video
//! tiles, and the task that turns client events into [`AppEvent`]s (saving received files on
//! the way).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use p2pcf_client::{ClientConfig, ClientEvent, ClientHandle, JoinOptions, SessionId};
use p2pcf_proto::file;
use p2pcf_video::VideoSender;
use tauri::AppHandle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::AppError;
use crate::events::{emit, AppEvent, Connection};
use crate::files;
use crate::frames::FrameSink;
use crate::local_video::{self, VideoInfo};
use crate::remote_video::RemoteVideos;
use crate::settings::Settings;

/// At most one progress event per transfer this often (plus the last one).
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

type Peers = Arc<Mutex<HashMap<SessionId, String>>>;
/// Our running video sender (the event pump forwards key-frame requests to it).
type Sending = Arc<Mutex<Option<VideoSender>>>;

/// What `join` tells the UI.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinInfo {
    pub room: String,
    pub name: String,
    pub session_id: String,
    pub worker_url: String,
    /// The URL others on the LAN paste as worker URL (embedded server with the LAN option).
    pub lan_url: Option<String>,
    /// What a PeerJS web app on the LAN passes to `new Peer(...)` (embedded server, LAN option).
    pub peerjs_lan: Option<String>,
}

pub struct Room {
    client: ClientHandle,
    peers: Peers,
    max_message_size: usize,
    pump: JoinHandle<()>,
    sending: Sending,
    remote: RemoteVideos,
    sink: FrameSink,
}

static TRANSFER_IDS: AtomicU64 = AtomicU64::new(1);

impl Room {
    /// Joins `room` as `name` with `config`; events go to the UI from now on.
    pub async fn join(
        app: AppHandle,
        room: &str,
        name: &str,
        config: ClientConfig,
        save_dir: PathBuf,
        sink: FrameSink,
    ) -> Result<(Room, SessionId), AppError> {
        emit(
            &app,
            AppEvent::Status {
                connection: Connection::Connecting,
                peers: 0,
                text: format!("Connecting to {}…", config.worker_url),
            },
        );
        let max_message_size = config.max_message_size;
        let options = JoinOptions {
            config,
            ..JoinOptions::default()
        };
        let (client, events) = p2pcf_client::join(room, name, options).await?;
        let peers = Peers::default();
        let sending = Sending::default();
        let remote = RemoteVideos::new(app.clone(), sink.clone());
        let pump = tokio::spawn(pump(
            Pump {
                app,
                peers: Arc::clone(&peers),
                save_dir,
                sending: Arc::clone(&sending),
                remote: remote.clone(),
            },
            events,
        ));
        let session = client.session_id().clone();
        Ok((
            Room {
                client,
                peers,
                max_message_size,
                pump,
                sending,
                remote,
                sink,
            },
            session,
        ))
    }

    /// Sends a chat line to every connected peer.
    pub async fn send_chat(&self, text: &str) -> Result<usize, AppError> {
        let results = self.client.broadcast(Bytes::from(text.to_owned())).await?;
        let delivered = results.iter().filter(|(_, r)| r.is_ok()).count();
        if let Some((_, Err(e))) = results.iter().find(|(_, r)| r.is_err()) {
            tracing::warn!(error = %e, "chat not delivered to every peer");
        }
        Ok(delivered)
    }

    /// Sends the file at `path` to every connected peer, with progress events. Returns the
    /// transfer ids (one per peer) once the sends started.
    pub async fn send_file(&self, app: AppHandle, path: PathBuf) -> Result<Vec<u64>, AppError> {
        let peers: Vec<(SessionId, String)> = lock(&self.peers)
            .iter()
            .map(|(s, n)| (s.clone(), n.clone()))
            .collect();
        if peers.is_empty() {
            return Err(AppError::Invalid(
                "no peer connected: wait for someone to join".into(),
            ));
        }
        let max = self.max_message_size;
        let outgoing = tokio::task::spawn_blocking(move || files::load(&path, max))
            .await
            .map_err(|e| AppError::Io(e.to_string()))??;
        let outgoing = Arc::new(outgoing);
        let mut ids = Vec::new();
        for (session, name) in peers {
            let id = TRANSFER_IDS.fetch_add(1, Ordering::Relaxed);
            ids.push(id);
            tokio::spawn(send_file_to(
                app.clone(),
                self.client.clone(),
                id,
                session,
                name,
                Arc::clone(&outgoing),
            ));
        }
        Ok(ids)
    }

    /// Starts sending video from the source in `settings` to every peer (and to peers that
    /// join later).
    pub async fn start_video(&self, settings: &Settings) -> Result<VideoInfo, AppError> {
        if lock(&self.sending).is_some() {
            return Err(AppError::Invalid("video is already on".into()));
        }
        let opened = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || local_video::open_source(&settings))
                .await
                .map_err(|e| AppError::Io(e.to_string()))??
        };
        let (source, info) = opened;
        let sender = local_video::start_sender(source, settings, self.sink.clone())?;
        let track = sender.track();
        {
            let mut sending = lock(&self.sending);
            if sending.is_some() {
                return Err(AppError::Invalid("video is already on".into()));
            }
            *sending = Some(sender);
        }
        if let Err(e) = self.client.add_track(track).await {
            self.stop_sender().await;
            return Err(e.into());
        }
        tracing::info!(source = ?info.source, "video on");
        Ok(info)
    }

    /// Stops our video: peers stop receiving it (their tiles end), the encoder stops.
    pub async fn stop_video(&self) -> Result<(), AppError> {
        let track_id = lock(&self.sending)
            .as_ref()
            .map(|s| s.track_id().to_owned())
            .ok_or_else(|| AppError::Invalid("video is not on".into()))?;
        let removed = self.client.remove_track(&track_id).await;
        self.stop_sender().await;
        removed?;
        Ok(())
    }

    async fn stop_sender(&self) {
        let sender = lock(&self.sending).take();
        if let Some(sender) = sender {
            // Joins the encoder thread (at most a frame's time).
            let stats = tokio::task::spawn_blocking(move || sender.stop()).await;
            if let Ok(stats) = stats {
                tracing::info!(frames = stats.frames, "video off");
            }
        }
        self.sink.remove(crate::frames::PREVIEW_TILE);
    }

    /// Leaves: the P2PCF leave request goes out (peers see us go), then our video and the
    /// peers' tiles stop, then the pump ends.
    pub async fn leave(self) {
        self.client.leave().await;
        self.stop_sender().await;
        if tokio::time::timeout(Duration::from_secs(3), self.pump)
            .await
            .is_err()
        {
            tracing::warn!("room events did not end within 3 s after leaving");
        }
        // After the pump: no track can start a tile any more.
        self.remote.end_all();
    }
}

fn lock<T>(shared: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn send_file_to(
    app: AppHandle,
    client: ClientHandle,
    transfer_id: u64,
    to: SessionId,
    peer: String,
    file: Arc<files::Outgoing>,
) {
    let progress = |sent: u64| AppEvent::FileProgress {
        transfer_id,
        peer: peer.clone(),
        file_name: file.name.clone(),
        sent: file.file_bytes_sent(sent),
        total: file.size,
    };
    let result = client
        .send_reporting(&to, file.message.clone(), PROGRESS_EVERY, |sent| {
            emit(&app, progress(sent));
        })
        .await;
    match result {
        Ok(()) => {
            emit(
                &app,
                AppEvent::FileSent {
                    transfer_id,
                    peer,
                    file_name: file.name.clone(),
                    size: file.size,
                },
            );
        }
        Err(e) => emit(
            &app,
            AppEvent::FileFailed {
                transfer_id,
                peer,
                file_name: file.name.clone(),
                total: file.size,
                reason: e.to_string(),
            },
        ),
    }
}

/// What the event pump works with.
struct Pump {
    app: AppHandle,
    peers: Peers,
    save_dir: PathBuf,
    sending: Sending,
    remote: RemoteVideos,
}

/// Turns client events into UI events until the client has left.
async fn pump(p: Pump, mut events: mpsc::UnboundedReceiver<ClientEvent>) {
    let Pump {
        app,
        peers,
        save_dir,
        sending,
        remote,
    } = p;
    let status = |app: &AppHandle, peers: &Peers| {
        let n = lock(peers).len();
        let text = match n {
            0 => "Connected, waiting for peers".to_owned(),
            1 => "1 peer connected".to_owned(),
            n => format!("{n} peers connected"),
        };
        emit(
            app,
            AppEvent::Status {
                connection: Connection::Connected,
                peers: n,
                text,
            },
        );
    };
    while let Some(event) = events.recv().await {
        match event {
            ClientEvent::Joined { .. } | ClientEvent::SignallingRecovered => status(&app, &peers),
            ClientEvent::PeerConnected {
                session_id,
                client_id,
            } => {
                lock(&peers).insert(session_id.clone(), client_id.to_string());
                emit(
                    &app,
                    AppEvent::PeerConnected {
                        session_id: session_id.to_string(),
                        name: client_id.to_string(),
                    },
                );
                status(&app, &peers);
            }
            ClientEvent::PeerClosed {
                session_id,
                client_id,
            } => {
                lock(&peers).remove(&session_id);
                remote.end_peer(&session_id);
                emit(
                    &app,
                    AppEvent::PeerClosed {
                        session_id: session_id.to_string(),
                        name: client_id.to_string(),
                    },
                );
                status(&app, &peers);
            }
            ClientEvent::Message { from, data } => {
                let name = lock(&peers)
                    .get(&from)
                    .cloned()
                    .unwrap_or_else(|| from.to_string());
                if file::is_file_message(&data) {
                    receive_file(&app, &save_dir, &from, name, data).await;
                } else {
                    emit(
                        &app,
                        AppEvent::Message {
                            from: from.to_string(),
                            name,
                            text: String::from_utf8_lossy(&data).into_owned(),
                        },
                    );
                }
            }
            ClientEvent::SignallingError {
                status: None,
                text,
                consecutive_failures,
            } => emit(
                &app,
                AppEvent::Status {
                    connection: Connection::Unreachable,
                    peers: lock(&peers).len(),
                    text: format!(
                        "Signalling server unreachable ({text}); retrying \
                         (attempt {consecutive_failures})"
                    ),
                },
            ),
            ClientEvent::SignallingError {
                status: Some(code),
                text,
                ..
            } => emit(
                &app,
                AppEvent::Error {
                    text: format!("signalling server refused the request ({code}): {text}"),
                },
            ),
            ClientEvent::MessageDropped { from, reason } => emit(
                &app,
                AppEvent::Error {
                    text: format!("message from {from} dropped: {reason}"),
                },
            ),
            ClientEvent::PeerConnecting {
                session_id,
                client_id,
            } => emit(
                &app,
                AppEvent::PeerConnecting {
                    session_id: session_id.to_string(),
                    name: client_id.to_string(),
                },
            ),
            ClientEvent::PeerFailed {
                session_id,
                client_id,
                reason,
            } => {
                tracing::info!(peer = %session_id, %reason, "connection to peer failed");
                emit(
                    &app,
                    AppEvent::PeerFailed {
                        session_id: session_id.to_string(),
                        name: client_id.to_string(),
                        reason,
                    },
                );
            }
            ClientEvent::TrackStarted { from, track } => {
                if track.kind() != "video" {
                    tracing::info!(peer = %from, kind = track.kind(), "ignoring a non-video track");
                    continue;
                }
                let name = lock(&peers)
                    .get(&from)
                    .cloned()
                    .unwrap_or_else(|| from.to_string());
                remote.start(from, name, track);
            }
            ClientEvent::KeyframeRequested { from } => {
                if let Some(sender) = lock(&sending).as_ref() {
                    tracing::debug!(peer = %from, "key frame requested");
                    sender.request_keyframe();
                }
            }
            ClientEvent::Left => break,
        }
    }
    emit(&app, AppEvent::Left);
}

async fn receive_file(
    app: &AppHandle,
    save_dir: &std::path::Path,
    from: &SessionId,
    name: String,
    data: Bytes,
) {
    let dir = save_dir.to_path_buf();
    let saved = tokio::task::spawn_blocking(move || {
        let decoded = file::decode(&data)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "not a file message".to_owned())?;
        let path = files::save_unique(&dir, &decoded.header.name, decoded.data)
            .map_err(|e| format!("cannot save {:?}: {e}", decoded.header.name))?;
        Ok::<_, String>((decoded.header.name, decoded.header.size, path))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match saved {
        Ok((file_name, size, path)) => emit(
            app,
            AppEvent::FileReceived {
                from: from.to_string(),
                name,
                file_name,
                size,
                path: path.display().to_string(),
            },
        ),
        Err(e) => emit(
            app,
            AppEvent::Error {
                text: format!("file from {name} rejected: {e}"),
            },
        ),
    }
}
