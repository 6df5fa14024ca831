//! The persistent store: the in-memory store plus a write-behind copy on disk, one JSON file per
//! room (`rooms/{id}.json`, replaced atomically: write a temp file, fsync, rename) and one file of
//! origin counts. A background thread writes in the order the changes happened; `flush` waits
//! for it. After a restart the rooms are back until their entries expire.
//!
//! Durability: a graceful shutdown flushes everything; a crash loses at most the changes still
//! queued (milliseconds) and origin counts since the last vacuum pass.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::memory::{ChangeSink, MemoryStore};
use super::{RoomUpdate, Store, StoreError, StoreStats, VacuumReport};
use crate::room::{Room, RoomId};

const ORIGINS_FILE: &str = "origin-counts.json";

enum Job {
    Room { id: String, json: Option<Vec<u8>> },
    Origins(Vec<u8>),
    Flush(tokio::sync::oneshot::Sender<Result<(), String>>),
}

struct Writer {
    tx: Mutex<mpsc::Sender<Job>>,
}

impl Writer {
    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| StoreError::WriterStopped)
    }
}

impl ChangeSink for Writer {
    fn room_changed(&self, id: &str, room: Option<&Room>) {
        let json = room.map(|r| serde_json::to_vec(r).unwrap_or_default());
        if self
            .send(Job::Room {
                id: id.to_owned(),
                json,
            })
            .is_err()
        {
            tracing::error!(room = id, "file store writer stopped; change not persisted");
        }
    }
}

/// Rooms in memory, persisted under a directory.
pub struct FileStore {
    mem: MemoryStore,
    writer: Arc<Writer>,
    dir: PathBuf,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore").field("dir", &self.dir).finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

impl FileStore {
    /// Opens (creating if needed) the data directory and loads what it holds. Expired entries
    /// are dropped at the first vacuum; they are never answered.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let rooms_dir = dir.join("rooms");
        fs::create_dir_all(&rooms_dir).map_err(io_err(&rooms_dir))?;

        let (tx, rx) = mpsc::channel();
        let writer = Arc::new(Writer { tx: Mutex::new(tx) });
        let mem = MemoryStore::with_sink(writer.clone());

        let mut loaded = 0usize;
        for item in fs::read_dir(&rooms_dir).map_err(io_err(&rooms_dir))? {
            let path = item.map_err(io_err(&rooms_dir))?.path();
            let Some(id) = room_id_of(&path) else {
                continue;
            };
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            match serde_json::from_slice::<Room>(&bytes) {
                Ok(room) => {
                    mem.load_room(id, room);
                    loaded += 1;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable room file")
                }
            }
        }
        let origins_path = dir.join(ORIGINS_FILE);
        if let Ok(bytes) = fs::read(&origins_path) {
            match serde_json::from_slice(&bytes) {
                Ok(counts) => mem.load_origin_counts(counts),
                Err(e) => {
                    tracing::warn!(path = %origins_path.display(), error = %e, "ignoring unreadable origin counts")
                }
            }
        }
        tracing::info!(dir = %dir.display(), rooms = loaded, "file store opened");

        let thread_dir = dir.clone();
        std::thread::Builder::new()
            .name("p2pcf-store-writer".into())
            .spawn(move || write_loop(&thread_dir, rx))
            .map_err(io_err(&dir))?;
        Ok(Self { mem, writer, dir })
    }

    fn save_origins(&self) -> Result<(), StoreError> {
        let counts: HashMap<String, HashMap<String, u64>> = self.mem.origin_counts();
        let json = serde_json::to_vec(&counts).unwrap_or_default();
        self.writer.send(Job::Origins(json))
    }
}

fn room_id_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_suffix(".json")?;
    let valid = (4..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    valid.then(|| id.to_owned())
}

fn write_loop(dir: &Path, rx: mpsc::Receiver<Job>) {
    let mut failure: Option<String> = None;
    while let Ok(job) = rx.recv() {
        let result = match job {
            Job::Room { id, json } => {
                let path = dir.join("rooms").join(format!("{id}.json"));
                match json {
                    Some(json) => replace_file(&path, &json),
                    None => match fs::remove_file(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                        _ => Ok(()),
                    },
                }
                .map_err(|e| format!("{}: {e}", path.display()))
            }
            Job::Origins(json) => replace_file(&dir.join(ORIGINS_FILE), &json)
                .map_err(|e| format!("{ORIGINS_FILE}: {e}")),
            Job::Flush(done) => {
                let _ = done.send(failure.take().map_or(Ok(()), Err));
                continue;
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "file store write failed");
            failure.get_or_insert(e);
        }
    }
}

fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

#[async_trait]
impl Store for FileStore {
    async fn update_room(&self, room: &RoomId, update: RoomUpdate<'_>) -> Result<(), StoreError> {
        self.mem.update_room_now(room, update);
        Ok(())
    }

    async fn incr_origin_count(&self, origin: &str, month: &str) -> Result<u64, StoreError> {
        self.mem.incr_origin_count(origin, month).await
    }

    async fn vacuum(&self, now_ms: f64) -> Result<VacuumReport, StoreError> {
        let report = self.mem.vacuum_now(now_ms);
        self.save_origins()?;
        Ok(report)
    }

    async fn stats(&self) -> StoreStats {
        self.mem.stats_now()
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.save_origins()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.writer.send(Job::Flush(tx))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Io {
                path: self.dir.clone(),
                source: std::io::Error::other(e),
            }),
            Err(_) => Err(StoreError::WriterStopped),
        }
    }
}
