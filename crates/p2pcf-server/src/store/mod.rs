//! Storage behind one trait: an atomic read-modify-write of one room, an atomic origin counter,
//! and a vacuum. The room logic stays in [`crate::room`]; a store only keeps rooms.
//!
//! A Redis store fits the same shape: one key per room holding the serialised [`Room`],
//! `update_room` as WATCH/GET/MULTI/SET/EXEC retried on conflict (or a Lua script), the origin
//! counter as `INCR` on `join-counts/{month}/{origin}` with a month-long expiry, and `vacuum`
//! as key expiry plus a periodic scan.

mod file;
mod memory;

use async_trait::async_trait;

pub use file::FileStore;
pub use memory::MemoryStore;

use crate::room::{Room, RoomId};

/// A store failure (only persistent stores can fail).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the data directory failed.
    #[error("store I/O error at {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The background writer is gone (it panicked or the store was shut down).
    #[error("store writer stopped")]
    WriterStopped,
}

/// What one vacuum pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VacuumReport {
    /// Expired entries removed.
    pub entries: usize,
    /// Rooms removed because they had no entry left.
    pub rooms: usize,
}

/// A room update: mutate the room, return `true` if it changed (so it must be saved).
///
/// Stores may call it more than once for one update (optimistic stores retry on conflict); only
/// the effects of the last call are kept, so it must rewrite whatever it reports each time.
pub type RoomUpdate<'a> = &'a mut (dyn FnMut(&mut Room) -> bool + Send);

/// Where rooms and origin counters live.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Runs `update` on the room (an empty room if it does not exist) atomically with respect to
    /// every other update of the same room. A room left empty is not kept.
    async fn update_room(&self, room: &RoomId, update: RoomUpdate<'_>) -> Result<(), StoreError>;

    /// Adds one to the request count of `origin` in `month` (`YYYY-MM`, UTC) and returns the new
    /// count, atomically.
    async fn incr_origin_count(&self, origin: &str, month: &str) -> Result<u64, StoreError>;

    /// Removes expired entries, empty rooms and origin counts of months before `now_ms`'s month.
    async fn vacuum(&self, now_ms: f64) -> Result<VacuumReport, StoreError>;

    /// Makes everything written so far durable (no-op for volatile stores).
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
