//! The in-memory store: rooms sharded over a few mutexes that are never held across an await.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{RoomUpdate, Store, StoreError, StoreStats, VacuumReport};
use crate::month::month_key;
use crate::room::{Room, RoomId};

const SHARDS: usize = 32;

/// Told about every saved room change, inside the room's critical section (so in order).
pub(crate) trait ChangeSink: Send + Sync {
    /// `room` is `None` when the room was removed.
    fn room_changed(&self, id: &str, room: Option<&Room>);
}

type Shard = Mutex<HashMap<String, Room>>;

/// Rooms and origin counters in memory; lost on restart. The default store.
pub struct MemoryStore {
    hasher: RandomState,
    shards: Box<[Shard]>,
    origins: Mutex<HashMap<String, HashMap<String, u64>>>,
    sink: Option<Arc<dyn ChangeSink>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

// A panic inside one update must not take the whole store down: the data is still consistent
// (an update either ran to completion on the `Room` or the room value is what it was mid-way,
// which is valid by construction), so recover from poisoning.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            origins: Mutex::new(HashMap::new()),
            sink: None,
        }
    }

    pub(crate) fn with_sink(sink: Arc<dyn ChangeSink>) -> Self {
        Self {
            sink: Some(sink),
            ..Self::new()
        }
    }

    fn shard(&self, id: &str) -> &Shard {
        let i = (self.hasher.hash_one(id) as usize) % self.shards.len();
        &self.shards[i]
    }

    /// Inserts rooms loaded from elsewhere (no change notification).
    pub(crate) fn load_room(&self, id: String, room: Room) {
        if !room.is_empty() {
            lock(self.shard(&id)).insert(id, room);
        }
    }

    pub(crate) fn load_origin_counts(&self, counts: HashMap<String, HashMap<String, u64>>) {
        *lock(&self.origins) = counts;
    }

    pub(crate) fn origin_counts(&self) -> HashMap<String, HashMap<String, u64>> {
        lock(&self.origins).clone()
    }

    fn notify(&self, id: &str, room: Option<&Room>) {
        if let Some(sink) = &self.sink {
            sink.room_changed(id, room);
        }
    }

    /// The synchronous core of [`Store::update_room`].
    pub fn update_room_now(&self, id: &RoomId, update: RoomUpdate<'_>) {
        let mut shard = lock(self.shard(id.as_str()));
        if let Some(room) = shard.get_mut(id.as_str()) {
            let changed = update(room);
            if room.is_empty() {
                shard.remove(id.as_str());
                self.notify(id.as_str(), None);
            } else if changed {
                self.notify(id.as_str(), Some(room));
            }
        } else {
            let mut room = Room::default();
            let changed = update(&mut room);
            if !room.is_empty() {
                if changed {
                    self.notify(id.as_str(), Some(&room));
                }
                shard.insert(id.0.clone(), room);
            }
        }
    }

    /// The synchronous core of [`Store::vacuum`].
    pub fn vacuum_now(&self, now_ms: f64) -> VacuumReport {
        let mut report = VacuumReport::default();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            shard.retain(|id, room| {
                let removed = room.vacuum(now_ms);
                report.entries += removed;
                if room.is_empty() {
                    report.rooms += 1;
                    self.notify(id, None);
                    false
                } else {
                    if removed > 0 {
                        self.notify(id, Some(room));
                    }
                    true
                }
            });
        }
        let current = month_key(now_ms);
        lock(&self.origins).retain(|month, _| *month >= current);
        report
    }

    /// Number of rooms held (for tests and metrics).
    pub fn room_count(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Rooms and entries held (for metrics).
    pub fn stats_now(&self) -> StoreStats {
        let (mut rooms, mut entries) = (0u64, 0u64);
        for shard in self.shards.iter() {
            let shard = lock(shard);
            rooms += shard.len() as u64;
            entries += shard
                .values()
                .map(|r| r.slots.iter().flatten().count() as u64)
                .sum::<u64>();
        }
        StoreStats {
            rooms: Some(rooms),
            entries: Some(entries),
            keys: None,
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn update_room(&self, room: &RoomId, update: RoomUpdate<'_>) -> Result<(), StoreError> {
        self.update_room_now(room, update);
        Ok(())
    }

    async fn incr_origin_count(&self, origin: &str, month: &str) -> Result<u64, StoreError> {
        let mut origins = lock(&self.origins);
        let per_month = origins.entry(month.to_owned()).or_default();
        let count = match per_month.get_mut(origin) {
            Some(count) => count,
            None => per_month.entry(origin.to_owned()).or_insert(0),
        };
        *count += 1;
        Ok(*count)
    }

    async fn vacuum(&self, now_ms: f64) -> Result<VacuumReport, StoreError> {
        Ok(self.vacuum_now(now_ms))
    }

    async fn stats(&self) -> StoreStats {
        self.stats_now()
    }
}
