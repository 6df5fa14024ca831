//! Storage behind one trait: an atomic read-modify-write of one room, an atomic origin counter,
//! and a vacuum. The room logic stays in [`crate::room`]; a store only keeps rooms.
//!
//! [`RedisStore`] keeps rooms in Redis so that several server instances share them: one key per
//! room, updates as a compare-and-set script retried on conflict, expiry by key TTLs, and a
//! [`ChangeFeed`] that carries the long-poll extension's change counters across instances.

mod file;
mod memory;
mod redis;
mod redis_conn;
mod redis_feed;

use async_trait::async_trait;

pub use file::FileStore;
pub use memory::MemoryStore;
pub use redis::{RedisOptions, RedisStore};

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
    /// The shared store (Redis) could not be reached, timed out or answered an error.
    #[error("Redis unavailable: {0}")]
    Unavailable(String),
    /// A room kept changing through other instances while we tried to update it.
    #[error("room update gave up after {0} conflicting attempts")]
    Contended(u32),
    /// The store's configuration is unusable (e.g. a malformed Redis URL).
    #[error("invalid store configuration: {0}")]
    Config(String),
}

/// Room change counters shared by every server instance over one store (the long-poll
/// extension across instances). Stores kept in one process have none: the counters then live
/// in the server (see [`crate::watch`]).
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// The room's change counter as every instance sees it (0 for a room that does not exist).
    async fn version(&self, room: &str) -> Result<u64, StoreError>;

    /// A receiver that changes whenever the room changes through any instance. Delivery is
    /// active when this returns, so a version read afterwards cannot miss a change.
    async fn subscribe(&self, room: &str) -> Result<tokio::sync::watch::Receiver<u64>, StoreError>;

    /// Stops listening to rooms nobody waits on (called with vacuum).
    fn prune(&self);
}

/// Sizes of what a store holds, for metrics (`None` where counting is not cheap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Rooms held.
    pub rooms: Option<u64>,
    /// Entries held, live or expired but not yet vacuumed.
    pub entries: Option<u64>,
    /// Keys in the store's database (Redis: rooms, counters of emptied rooms, origin counters).
    pub keys: Option<u64>,
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

    /// [`Store::update_room`] that also returns the room's shared change counter after the
    /// update, for stores that keep one (see [`Store::change_feed`]); `None` otherwise.
    async fn update_room_versioned(
        &self,
        room: &RoomId,
        update: RoomUpdate<'_>,
    ) -> Result<Option<u64>, StoreError> {
        self.update_room(room, update).await.map(|()| None)
    }

    /// The change counters shared across instances, for stores shared by several servers.
    fn change_feed(&self) -> Option<std::sync::Arc<dyn ChangeFeed>> {
        None
    }

    /// Answers when the store can serve requests (for `/healthz`).
    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// What the store holds, for `/metrics`.
    async fn stats(&self) -> StoreStats {
        StoreStats::default()
    }
}
