//! Room change notices over Redis pub/sub: the long-poll extension across instances.
//!
//! Every room update script publishes the room's new version on the room's channel
//! (`p2pcf:{ROOM}:changes`: `PUBLISH`, or `SPUBLISH` on a Cluster, where the hash tag puts the
//! channel on the room's shard). An instance subscribes to a room's channel when a poll starts
//! waiting on that room and unsubscribes once nobody has waited on it for a vacuum interval, so
//! each change reaches only the instances holding polls for that room.
//!
//! A lost pub/sub connection may lose notices: every waiter is then woken (its client simply
//! polls again) and the next waiter subscribes anew before reading the version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use redis::aio::{AsyncPushSender, SendError};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::watch;

use super::redis_conn::{Conn, Target};
use super::StoreError;

const CHANNEL_PREFIX: &str = "p2pcf:{";
const CHANNEL_SUFFIX: &str = "}:changes";

/// The channel of a room (same hash tag as its key).
pub(crate) fn channel(room: &str) -> String {
    format!("{CHANNEL_PREFIX}{room}{CHANNEL_SUFFIX}")
}

fn room_of(channel: &[u8]) -> Option<&str> {
    let channel = std::str::from_utf8(channel).ok()?;
    channel
        .strip_prefix(CHANNEL_PREFIX)?
        .strip_suffix(CHANNEL_SUFFIX)
}

struct Watched {
    tx: watch::Sender<u64>,
    /// The subscription is confirmed and no disconnection happened since.
    confirmed: bool,
}

#[derive(Default)]
struct Rooms(Mutex<HashMap<String, Watched>>);

impl Rooms {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Watched>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Receives pushes from the pub/sub connection (inline: must not block).
struct PushSink(Weak<Rooms>);

impl AsyncPushSender for PushSink {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        let Some(rooms) = self.0.upgrade() else {
            return Err(SendError);
        };
        match info.kind {
            PushKind::Message | PushKind::SMessage => {
                let room = match info.data.first() {
                    Some(Value::BulkString(name)) => room_of(name),
                    _ => None,
                };
                if let Some(room) = room {
                    if let Some(w) = rooms.lock().get(room) {
                        w.tx.send_modify(|n| *n = n.wrapping_add(1));
                    }
                }
            }
            PushKind::Disconnection => {
                tracing::warn!("Redis pub/sub connection lost; waking every held poll");
                for w in rooms.lock().values_mut() {
                    w.confirmed = false;
                    w.tx.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The subscriptions of one store instance.
pub(crate) struct Feed {
    rooms: Arc<Rooms>,
    conn: Conn,
    /// Orders SUBSCRIBE and UNSUBSCRIBE commands (an unsubscribe never overtakes a resubscribe).
    order: tokio::sync::Mutex<()>,
}

impl Feed {
    pub fn open(target: &Target) -> Result<Self, StoreError> {
        let rooms = Arc::new(Rooms::default());
        let sink: Arc<dyn AsyncPushSender> = Arc::new(PushSink(Arc::downgrade(&rooms)));
        let conn = Conn::open(target, Some(sink))?;
        Ok(Self {
            rooms,
            conn,
            order: tokio::sync::Mutex::new(()),
        })
    }

    /// A receiver for the room's notices, with the subscription active.
    pub async fn subscribe(&self, room: &str) -> Result<watch::Receiver<u64>, StoreError> {
        let (rx, confirmed) = {
            let mut rooms = self.rooms.lock();
            let w = rooms.entry(room.to_owned()).or_insert_with(|| Watched {
                tx: watch::channel(0).0,
                confirmed: false,
            });
            (w.tx.subscribe(), w.confirmed)
        };
        if !confirmed {
            let _order = self.order.lock().await;
            self.conn.subscribe(&[channel(room)]).await?;
            if let Some(w) = self.rooms.lock().get_mut(room) {
                w.confirmed = true;
            }
        }
        Ok(rx)
    }

    /// Unsubscribes from rooms nobody waits on.
    pub async fn prune(&self) {
        let _order = self.order.lock().await;
        let idle: Vec<String> = {
            let mut rooms = self.rooms.lock();
            let idle: Vec<String> = rooms
                .iter()
                .filter(|(_, w)| w.tx.receiver_count() == 0)
                .map(|(room, _)| channel(room))
                .collect();
            rooms.retain(|_, w| w.tx.receiver_count() > 0);
            idle
        };
        for chunk in idle.chunks(256) {
            if let Err(e) = self.conn.unsubscribe(chunk).await {
                tracing::warn!(error = %e, "Redis unsubscribe failed");
                break;
            }
        }
    }

    /// Rooms with a subscription (for metrics).
    pub fn watched(&self) -> usize {
        self.rooms.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip_and_share_the_room_hash_tag() {
        let ch = channel("my-room_1");
        assert_eq!(ch, "p2pcf:{my-room_1}:changes");
        assert_eq!(room_of(ch.as_bytes()), Some("my-room_1"));
        assert_eq!(room_of(b"other"), None);
    }
}
