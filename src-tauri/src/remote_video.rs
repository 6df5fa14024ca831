//! Peers' video: each remote video track ([`p2pcf_client::ClientEvent::TrackStarted`]) gets a
//! tile (a number the UI keys its `<canvas>` by), a [`VideoReceiver`] decoding it, and a task
//! handing the frames to the [`FrameSink`]. The tile ends when the track ends, when the peer
//! leaves, or when we leave; whoever takes a tile out of the table tells the UI.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use p2pcf_client::{RemoteTrack, SessionId};
use p2pcf_video::{ReceiverEvent, VideoReceiver};
use tauri::AppHandle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::events::{emit, AppEvent};
use crate::frames::{FrameSink, PREVIEW_TILE};

/// Decoded frames waiting for the sink; the receiver drops (and counts) frames beyond this.
const DECODED_QUEUE: usize = 2;

static NEXT_TILE: AtomicU32 = AtomicU32::new(PREVIEW_TILE + 1);

struct Tile {
    session: SessionId,
    name: String,
    task: JoinHandle<()>,
}

/// The room's remote video tiles.
#[derive(Clone)]
pub struct RemoteVideos {
    app: AppHandle,
    sink: FrameSink,
    tiles: Arc<Mutex<HashMap<u32, Tile>>>,
}

impl RemoteVideos {
    pub fn new(app: AppHandle, sink: FrameSink) -> Self {
        RemoteVideos {
            app,
            sink,
            tiles: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Tile>> {
        self.tiles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shows `track` from `session` (display name `name`) in a new tile.
    pub fn start(&self, session: SessionId, name: String, track: RemoteTrack) {
        let tile = NEXT_TILE.fetch_add(1, Ordering::Relaxed);
        emit(
            &self.app,
            AppEvent::VideoStarted {
                tile,
                session_id: session.to_string(),
                name: name.clone(),
            },
        );
        // The table is locked while the task starts, so a track that ends at once still
        // finds its tile to remove.
        let mut tiles = self.lock();
        let task = tokio::spawn(self.clone().show(tile, track));
        tiles.insert(
            tile,
            Tile {
                session,
                name,
                task,
            },
        );
    }

    async fn show(self, tile: u32, track: RemoteTrack) {
        let (frames_tx, mut frames) = mpsc::channel(DECODED_QUEUE);
        let receiver = VideoReceiver::start(track, frames_tx);
        while let Some(event) = frames.recv().await {
            match event {
                ReceiverEvent::Frame(f) => {
                    self.sink.offer(tile, f.width, f.height, f.index, &f.rgba);
                }
                ReceiverEvent::Ended => break,
            }
        }
        let stats = receiver.stats();
        drop(receiver);
        tracing::info!(
            tile,
            frames = stats.frames,
            dropped = stats.dropped,
            "remote video ended"
        );
        let ended = self.lock().remove(&tile);
        if let Some(ended) = ended {
            self.ended(tile, ended, "the video ended");
        }
    }

    fn ended(&self, tile: u32, ended: Tile, reason: &str) {
        let (sent, dropped) = self.sink.remove(tile).unwrap_or_default();
        tracing::info!(
            tile,
            sent,
            dropped,
            "video tile closed (frames sent to the UI, dropped for a slow UI)"
        );
        emit(
            &self.app,
            AppEvent::VideoEnded {
                tile,
                session_id: ended.session.to_string(),
                name: ended.name,
                reason: reason.to_owned(),
            },
        );
    }

    /// Ends the tiles of a peer that left.
    pub fn end_peer(&self, session: &SessionId) {
        let gone: Vec<(u32, Tile)> = {
            let mut tiles = self.lock();
            let ids: Vec<u32> = tiles
                .iter()
                .filter(|(_, t)| &t.session == session)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| tiles.remove(&id).map(|t| (id, t)))
                .collect()
        };
        for (id, tile) in gone {
            tile.task.abort();
            self.ended(id, tile, "the peer left");
        }
    }

    /// Ends every tile (we leave the room).
    pub fn end_all(&self) {
        let gone: Vec<(u32, Tile)> = self.lock().drain().collect();
        for (id, tile) in gone {
            tile.task.abort();
            self.ended(id, tile, "left the room");
        }
    }
}
