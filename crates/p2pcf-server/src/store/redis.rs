//! Rooms in Redis, shared by every server instance pointed at the same Redis (or Cluster).
//!
//! Keys (the `{ROOM}` hash tag keeps a room's key and channel on one Cluster shard):
//! - `p2pcf:{ROOM}` — a hash: `r` = the room as JSON ([`Room`]), `v` = its change counter.
//!   The key expires [`RedisOptions::expiry_margin`] after its latest entry does, so rooms
//!   whose peers are gone disappear by Redis TTL without any scan. A room left empty keeps
//!   only `v` for the margin (so its counter never goes back while a client may hold it).
//! - `p2pcf:origin:MONTH:ORIGIN` — the origin quota counter: `INCR`, expiring after 32 days.
//! - channel `p2pcf:{ROOM}:changes` — the new counter after each change (see `redis_feed`).
//!
//! An update reads the room (`HMGET`, one command; a poll that changes nothing — the steady
//! state — ends there), runs the room logic in Rust, then writes with a compare-and-set script
//! that applies only if `v` is still what was read, increments `v`, sets the TTL and publishes.
//! On a conflict (another instance wrote in between) the update is run again on the fresh room,
//! serialised with this instance's other updates of the room, so only cross-instance races
//! retry. No update is ever lost: a write that did not apply is redone.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redis::Script;

use super::redis_conn::{unavailable, Conn, Target};
use super::redis_feed::{channel, Feed};
use super::{ChangeFeed, RoomUpdate, Store, StoreError, StoreStats, VacuumReport};
use crate::room::{Room, RoomId};

/// Updates of one room give up after this many conflicting attempts (each one lost to a write
/// through another instance).
const MAX_ATTEMPTS: u32 = 64;
const LOCKS: usize = 256;
const ORIGIN_TTL_MS: u64 = 32 * 24 * 3600 * 1000;

/// KEYS[1] room key; ARGV: expected `v` ('' = none), room JSON ('' = left empty), expiry
/// (absolute ms, or the margin in ms when empty), channel, publish command, `v` to start from.
const CAS: &str = r"
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then return {0, 0} end
if not v then redis.call('HSET', KEYS[1], 'v', ARGV[6]) end
local nv = redis.call('HINCRBY', KEYS[1], 'v', 1)
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'r')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('HSET', KEYS[1], 'r', ARGV[2])
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
redis.call(ARGV[5], ARGV[4], string.format('%d', nv))
return {1, nv}
";

const INCR: &str = r"
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return c
";

/// Tuning of a [`RedisStore`].
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// How long a room key outlives its latest entry (and an emptied room its counter).
    pub expiry_margin: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            expiry_margin: Duration::from_secs(60),
        }
    }
}

/// Rooms and origin counters in Redis. Cheap to clone; connects lazily and reconnects by
/// itself, so a Redis outage makes requests fail (503) and service resumes when it is back.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    feed: Feed,
    cluster: bool,
    options: RedisOptions,
    cas: Script,
    incr: Script,
    hasher: RandomState,
    locks: Box<[tokio::sync::Mutex<()>]>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.inner.cluster)
            .finish_non_exhaustive()
    }
}

/// The key of a room.
pub fn room_key(room: &str) -> String {
    format!("p2pcf:{{{room}}}")
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RedisStore {
    /// A store over `url` (see [`crate::StoreConfig::Redis`] for the forms). Nothing is
    /// connected yet (call [`Store::check`] to find out whether Redis answers); must be called
    /// within a Tokio runtime.
    pub fn open(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let target = Target::parse(url)?;
        let conn = Conn::open(&target, None)?;
        let feed = Feed::open(&target)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                feed,
                cluster: target.is_cluster(),
                options,
                cas: Script::new(CAS),
                incr: Script::new(INCR),
                hasher: RandomState::new(),
                locks: (0..LOCKS).map(|_| tokio::sync::Mutex::new(())).collect(),
            }),
        })
    }

    fn lock(&self, room: &str) -> &tokio::sync::Mutex<()> {
        let i = (self.inner.hasher.hash_one(room) as usize) % self.inner.locks.len();
        &self.inner.locks[i]
    }

    async fn try_update(
        &self,
        key: &str,
        room: &RoomId,
        update: RoomUpdate<'_>,
    ) -> Result<Result<u64, ()>, StoreError> {
        let mut conn = self.inner.conn.handle().await?;
        let (json, version): (Option<Vec<u8>>, Option<u64>) = redis::cmd("HMGET")
            .arg(key)
            .arg("r")
            .arg("v")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let existed = json.is_some();
        let mut value = match json {
            Some(bytes) => serde_json::from_slice::<Room>(&bytes).map_err(|e| {
                StoreError::Unavailable(format!("room {room} holds unreadable data: {e}"))
            })?,
            None => Room::default(),
        };
        let changed = update(&mut value);
        let empty = value.is_empty();
        if !((changed && !empty) || (existed && empty)) {
            return Ok(Ok(version.unwrap_or(0)));
        }
        let margin = self.inner.options.expiry_margin.as_millis() as u64;
        let (body, expiry) = if empty {
            (Vec::new(), margin.max(1))
        } else {
            let latest = value
                .slots
                .iter()
                .flatten()
                .map(|e| e.expires_at_ms)
                .fold(0.0_f64, f64::max);
            let body = serde_json::to_vec(&value)
                .map_err(|e| StoreError::Unavailable(format!("serialising room {room}: {e}")))?;
            (body, (latest.max(0.0).ceil() as u64) + margin.max(1))
        };
        let publish = if self.inner.cluster {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        let (applied, new_version): (i64, u64) = self
            .inner
            .cas
            .key(key)
            .arg(version.map(|v| v.to_string()).unwrap_or_default())
            .arg(body)
            .arg(expiry)
            .arg(channel(room.as_str()))
            .arg(publish)
            .arg(wall_ms().saturating_mul(1024))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(if applied == 1 {
            Ok(new_version)
        } else {
            Err(())
        })
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn update_room(&self, room: &RoomId, update: RoomUpdate<'_>) -> Result<(), StoreError> {
        self.update_room_versioned(room, update).await.map(|_| ())
    }

    async fn update_room_versioned(
        &self,
        room: &RoomId,
        update: RoomUpdate<'_>,
    ) -> Result<Option<u64>, StoreError> {
        let key = room_key(room.as_str());
        // First attempt without the local lock: polls that change nothing never wait on it.
        if let Ok(version) = self.try_update(&key, room, &mut *update).await? {
            return Ok(Some(version));
        }
        let _serialised = self.lock(room.as_str()).lock().await;
        for attempt in 1..MAX_ATTEMPTS {
            if let Ok(version) = self.try_update(&key, room, &mut *update).await? {
                return Ok(Some(version));
            }
            // Lost to another instance: give it a moment, with jitter.
            let pause = rand::random::<u64>() % (200 * u64::from(attempt.min(10)));
            tokio::time::sleep(Duration::from_micros(pause)).await;
        }
        Err(StoreError::Contended(MAX_ATTEMPTS))
    }

    async fn incr_origin_count(&self, origin: &str, month: &str) -> Result<u64, StoreError> {
        let mut conn = self.inner.conn.handle().await?;
        self.inner
            .incr
            .key(format!("p2pcf:origin:{month}:{origin}"))
            .arg(ORIGIN_TTL_MS)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    /// Nothing to do: rooms and counters expire by Redis TTLs, and expired entries are never
    /// answered (they are dropped from a room at its next write).
    async fn vacuum(&self, _now_ms: f64) -> Result<VacuumReport, StoreError> {
        Ok(VacuumReport::default())
    }

    fn change_feed(&self) -> Option<Arc<dyn ChangeFeed>> {
        Some(Arc::new(self.clone()))
    }

    async fn check(&self) -> Result<(), StoreError> {
        let mut conn = self.inner.conn.handle().await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn stats(&self) -> StoreStats {
        let keys = async {
            let mut conn = self.inner.conn.handle().await.ok()?;
            redis::cmd("DBSIZE")
                .query_async::<u64>(&mut conn)
                .await
                .ok()
        };
        StoreStats {
            rooms: None,
            entries: None,
            keys: if self.inner.cluster { None } else { keys.await },
        }
    }
}

#[async_trait]
impl ChangeFeed for RedisStore {
    async fn version(&self, room: &str) -> Result<u64, StoreError> {
        let mut conn = self.inner.conn.handle().await?;
        let v: Option<u64> = redis::cmd("HGET")
            .arg(room_key(room))
            .arg("v")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(v.unwrap_or(0))
    }

    async fn subscribe(&self, room: &str) -> Result<tokio::sync::watch::Receiver<u64>, StoreError> {
        self.inner.feed.subscribe(room).await
    }

    fn prune(&self) {
        let store = self.clone();
        tokio::spawn(async move { store.inner.feed.prune().await });
    }
}

impl RedisStore {
    /// Rooms this instance listens to for held polls.
    pub fn watched_rooms(&self) -> usize {
        self.inner.feed.watched()
    }
}
