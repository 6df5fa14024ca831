//! Room change announcements: our long-poll extension to the worker protocol.
//!
//! Every poll answer of this server carries `X-P2PCF-Version: N`, the room's change counter
//! (read before the answer was computed). A client that sends `X-P2PCF-Wait: MS` and
//! `X-P2PCF-Since: N` with a poll is held until the room changes from `N` or `MS` pass (at most
//! [`MAX_WAIT`]), then answered as usual. The real worker ignores both headers and answers at
//! once without a version, which is how clients detect that the extension is absent and keep to
//! plain polling. Browsers never send the headers, so CORS is unaffected.
//!
//! With a store kept in this process, counters live here and start at a random base so a
//! restarted server does not reuse a version a client already holds. With a store shared by
//! several instances (Redis), the store keeps them ([`ChangeFeed`]): the version in an answer is
//! the one the store read or wrote with the room, and a poll held on instance A is woken by a
//! change made through instance B (Redis pub/sub).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::ChangeFeed;

/// The longest a poll is held.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

pub(crate) const VERSION_HEADER: &str = "x-p2pcf-version";
pub(crate) const WAIT_HEADER: &str = "x-p2pcf-wait";
pub(crate) const SINCE_HEADER: &str = "x-p2pcf-since";

#[derive(Clone)]
pub(crate) struct RoomWatch {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Option<Arc<dyn ChangeFeed>>,
    base: u64,
    rooms: Mutex<HashMap<String, watch::Sender<u64>>>,
    closing: watch::Sender<bool>,
}

impl RoomWatch {
    /// Counters of the store's [`ChangeFeed`] when it has one, else counters in this process.
    pub fn new(shared: Option<Arc<dyn ChangeFeed>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                base: u64::from(rand::random::<u32>()) << 16,
                rooms: Mutex::new(HashMap::new()),
                closing: watch::channel(false).0,
            }),
        }
    }

    fn sender(&self, room: &str) -> watch::Sender<u64> {
        let mut rooms = self.inner.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .entry(room.to_owned())
            .or_insert_with(|| watch::channel(self.inner.base).0)
            .clone()
    }

    /// The room's change counter kept in this process (`None` when the store keeps them).
    pub fn local_version(&self, room: &str) -> Option<u64> {
        self.inner.shared.is_none().then(|| self.version(room))
    }

    /// Holds the poll while the room's counter is `since` (at most `wait`); true if it was held
    /// (so the answer must be computed at a new time).
    pub async fn hold(&self, room: &str, since: u64, wait: Duration) -> bool {
        let Some(shared) = &self.inner.shared else {
            if self.version(room) != since {
                return false;
            }
            self.wait_change(room, since, wait).await;
            return true;
        };
        // Listen first, then read: a change after the read is seen by the receiver.
        let mut changes = match shared.subscribe(room).await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hold poll: change feed unavailable");
                return false;
            }
        };
        match shared.version(room).await {
            Ok(v) if v == since => {}
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hold poll: version unavailable");
                return false;
            }
        }
        let mut closing = self.inner.closing.subscribe();
        if *closing.borrow() {
            return true;
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = closing.wait_for(|c| *c) => {}
            _ = tokio::time::sleep(wait.min(MAX_WAIT)) => {}
        }
        true
    }

    /// The room's current change counter (kept in this process).
    fn version(&self, room: &str) -> u64 {
        let rooms = self.inner.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.get(room).map_or(self.inner.base, |tx| *tx.borrow())
    }

    /// Records a change and wakes the room's waiters (the store does it when it keeps counters).
    pub fn bump(&self, room: &str) {
        if self.inner.shared.is_some() {
            return;
        }
        self.sender(room).send_modify(|v| *v += 1);
    }

    /// Waits until the room's counter differs from `since`, `wait` passed, or the server closes.
    async fn wait_change(&self, room: &str, since: u64, wait: Duration) {
        let mut changes = self.sender(room).subscribe();
        let mut closing = self.inner.closing.subscribe();
        if *closing.borrow() {
            return;
        }
        let changed = changes.wait_for(|v| *v != since);
        tokio::select! {
            _ = changed => {}
            _ = closing.wait_for(|c| *c) => {}
            _ = tokio::time::sleep(wait.min(MAX_WAIT)) => {}
        }
    }

    /// Releases every held poll (graceful shutdown must not wait for them).
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Forgets rooms nobody waits on and nothing changed in lately (called by vacuum).
    pub fn prune(&self) {
        if let Some(shared) = &self.inner.shared {
            shared.prune();
        }
        let mut rooms = self.inner.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.retain(|_, tx| tx.receiver_count() > 0);
    }
}
