//! The PeerJS server as a sans-IO state machine: fed with socket events and the time, it says
//! which frames go to which socket, which sockets to close, and what happened (for logs).
//!
//! Inputs: [`Realm::connect`] (a WebSocket upgraded with this query), [`Realm::frame`] (a text or
//! binary message from a socket), [`Realm::close`] (a socket ended), [`Realm::tick`] (time
//! passed). Outputs go to an [`Outbox`]; [`Recorder`] is one that records them, for tests.

use std::collections::HashSet;
use std::sync::Arc;

use super::config::PeerJsConfig;
use super::queue::{OfflineQueues, QueueFull, QueueLimits};
use super::registry::{ConnId, Registry};
use super::wire::{self, Dst, FrameError, Incoming, Kind, Query};

/// How often liveness is checked (upstream's `DEFAULT_CHECK_INTERVAL`).
pub const CHECK_INTERVAL_MS: u64 = 300;

/// A socket could not take a frame: it is gone or too far behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undeliverable;

/// Where the realm's outputs go.
pub trait Outbox {
    /// Queue `frame` for `conn`; `Err` when that socket cannot take it (it is then dead).
    fn send(&mut self, conn: ConnId, frame: String) -> Result<(), Undeliverable>;
    /// Close `conn` (a close frame without status code, as upstream).
    fn close(&mut self, conn: ConnId);
    /// Something worth a log line.
    fn event(&mut self, event: RealmEvent);
}

/// Why an id stopped being registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Its socket closed.
    Closed,
    /// No `HEARTBEAT` within the alive timeout.
    TimedOut,
    /// It sent `LEAVE` without `dst`.
    Left,
    /// A frame for it could not be delivered.
    Unreachable,
}

/// Why a client frame had no effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not JSON.
    Invalid,
    /// A type the server does not handle.
    UnknownType,
    /// The socket speaks for no id (refused, replaced or after `LEAVE`).
    Unregistered,
    /// No usable `dst`.
    NoDestination,
    /// `LEAVE`/`EXPIRE` for an id nobody holds (upstream drops these too).
    OfflineNotice,
    /// An offline queue cap.
    QueueFull(QueueFull),
}

/// What happened, for the shell's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmEvent {
    /// A new id registered (`OPEN` sent).
    Opened { conn: ConnId, id: Arc<str> },
    /// A registered id moved to a new socket with the same token (`OPEN` sent).
    Reattached { conn: ConnId, id: Arc<str> },
    /// The socket was refused with this `ERROR`/`ID-TAKEN` text and closed.
    Refused { conn: ConnId, reason: &'static str },
    /// An id was deregistered.
    Disconnected { id: Arc<str>, why: Gone },
    /// A frame was ignored.
    Dropped { conn: ConnId, why: Dropped },
}

/// The realm: registered ids and offline queues.
#[derive(Debug)]
pub struct Realm {
    key: String,
    alive_timeout: u64,
    concurrent_limit: usize,
    registry: Registry,
    queues: OfflineQueues,
    next_check: u64,
}

impl Realm {
    /// An empty realm with `config`'s key, timeouts and limits.
    pub fn new(config: &PeerJsConfig) -> Self {
        let limits = QueueLimits {
            per_peer_messages: config.queue_max_messages_per_peer,
            per_peer_bytes: config.queue_max_bytes_per_peer,
            per_sender_messages: config.queue_max_messages_per_sender,
            per_sender_bytes: config.queue_max_bytes_per_sender,
            total_bytes: config.queue_max_bytes_total,
        };
        Self {
            key: config.key.clone(),
            alive_timeout: config.alive_timeout_ms,
            concurrent_limit: config.concurrent_limit,
            registry: Registry::default(),
            queues: OfflineQueues::new(limits, config.expire_timeout_ms),
            next_check: 0,
        }
    }

    /// A socket was upgraded with `query` (the URL's query string, without `?`). Returns whether
    /// it stays open (registered).
    pub fn connect(&mut self, conn: ConnId, query: &str, now: u64, out: &mut impl Outbox) -> bool {
        let query = Query::parse(query);
        let (Some(id), Some(token), Some(key)) = (query.id, query.token, query.key) else {
            return refuse(conn, wire::ERR_MISSING_PARAMS, out);
        };
        if key != self.key {
            return refuse(conn, wire::ERR_INVALID_KEY, out);
        }
        if id.len() > wire::MAX_ID_BYTES || !wire::is_valid_id(&id) {
            return refuse(conn, wire::ERR_INVALID_ID, out);
        }
        if token.len() > wire::MAX_ID_BYTES {
            return refuse(conn, wire::ERR_INVALID_TOKEN, out);
        }
        let id: Arc<str> = match self.registry.get(&id) {
            Some(registration) if *registration.token != *token => {
                let _ = out.send(conn, wire::id_taken());
                out.close(conn);
                out.event(RealmEvent::Refused {
                    conn,
                    reason: "ID is taken",
                });
                return false;
            }
            Some(_) => {
                if let Some(old) = self.registry.reattach(&id, conn, now) {
                    if old != conn {
                        out.close(old);
                    }
                }
                let id: Arc<str> = self
                    .registry
                    .id_of(conn)
                    .cloned()
                    .unwrap_or_else(|| id.into());
                out.event(RealmEvent::Reattached {
                    conn,
                    id: id.clone(),
                });
                id
            }
            None => {
                if self.registry.len() >= self.concurrent_limit {
                    return refuse(conn, wire::ERR_LIMIT, out);
                }
                let id = self.registry.insert(&id, &token, conn, now);
                out.event(RealmEvent::Opened {
                    conn,
                    id: id.clone(),
                });
                id
            }
        };
        let _ = out.send(conn, wire::open());
        for queued in self.queues.take(&id) {
            self.deliver(&queued.sender, &id, queued.frame, out);
        }
        true
    }

    /// A message arrived on `conn` (text, or binary read as UTF-8).
    pub fn frame(&mut self, conn: ConnId, frame: &[u8], now: u64, out: &mut impl Outbox) {
        self.message(conn, Incoming::parse(frame), now, out);
    }

    /// Like [`Realm::frame`] with the frame already parsed (the shell parses outside its lock).
    pub fn message(
        &mut self,
        conn: ConnId,
        message: Result<Incoming, FrameError>,
        now: u64,
        out: &mut impl Outbox,
    ) {
        let drop = |why| RealmEvent::Dropped { conn, why };
        let Some(src) = self.registry.id_of(conn).cloned() else {
            return out.event(drop(Dropped::Unregistered));
        };
        let Ok(message) = message else {
            return out.event(drop(Dropped::Invalid));
        };
        let Some(kind) = message.kind else {
            return out.event(drop(Dropped::UnknownType));
        };
        match (kind, message.dst) {
            (Kind::Heartbeat, _) => self.registry.heartbeat(conn, now),
            (_, Dst::Id(dst)) => {
                let frame = wire::relay(kind, &src, &dst, message.payload.as_deref());
                self.transmit(conn, &src, kind, &dst, frame, now, out);
            }
            (Kind::Leave, Dst::Falsy) => {
                self.registry.remove_conn(conn);
                out.close(conn);
                out.event(RealmEvent::Disconnected {
                    id: src,
                    why: Gone::Left,
                });
            }
            _ => out.event(drop(Dropped::NoDestination)),
        }
    }

    /// `conn` closed (by the client, an error, or after the realm asked).
    pub fn close(&mut self, conn: ConnId, _now: u64, out: &mut impl Outbox) {
        if let Some(id) = self.registry.remove_conn(conn) {
            out.event(RealmEvent::Disconnected {
                id,
                why: Gone::Closed,
            });
        }
    }

    /// Time passed: expire offline queues (`EXPIRE` to each sender) and, every
    /// [`CHECK_INTERVAL_MS`], disconnect ids silent for the alive timeout.
    pub fn tick(&mut self, now: u64, out: &mut impl Outbox) {
        for expired in self.queues.expire(now) {
            for sender in expired.senders {
                let notice = wire::notice(Kind::Expire, &expired.dst, &sender);
                self.notify(&sender, notice, out);
            }
        }
        if now < self.next_check {
            return;
        }
        self.next_check = now + CHECK_INTERVAL_MS;
        for id in self.registry.silent_since(now, self.alive_timeout) {
            if let Some(conn) = self.registry.remove(&id) {
                out.close(conn);
                out.event(RealmEvent::Disconnected {
                    id,
                    why: Gone::TimedOut,
                });
            }
        }
    }

    /// Registered ids (discovery).
    pub fn ids(&self) -> Vec<String> {
        self.registry.ids()
    }

    /// Whether `id` is registered (fresh ids avoid these).
    pub fn is_registered(&self, id: &str) -> bool {
        self.registry.get(id).is_some()
    }

    /// Number of registered ids.
    pub fn registered(&self) -> usize {
        self.registry.len()
    }

    /// Bytes waiting in offline queues (bounded by `queue_max_bytes_total`).
    pub fn queued_bytes(&self) -> usize {
        self.queues.total_bytes()
    }

    /// Messages waiting in offline queues.
    pub fn queued_messages(&self) -> usize {
        self.queues.total_messages()
    }

    /// Relays `frame` from `src` (on `conn`) to `dst`, queueing it when `dst` is offline.
    #[allow(clippy::too_many_arguments)]
    fn transmit(
        &mut self,
        conn: ConnId,
        src: &Arc<str>,
        kind: Kind,
        dst: &str,
        frame: String,
        now: u64,
        out: &mut impl Outbox,
    ) {
        if self.registry.get(dst).is_some() {
            self.deliver(src, dst, frame, out);
            return;
        }
        if matches!(kind, Kind::Leave | Kind::Expire) {
            return out.event(RealmEvent::Dropped {
                conn,
                why: Dropped::OfflineNotice,
            });
        }
        let already_expiring = self.queues.has_pair(dst, src);
        if let Err(full) = self.queues.push(dst, src, frame, now) {
            out.event(RealmEvent::Dropped {
                conn,
                why: Dropped::QueueFull(full),
            });
            if !already_expiring {
                self.notify(src, wire::notice(Kind::Expire, dst, src), out);
            }
        }
    }

    /// Sends `frame` to registered `dst`; if its socket is dead, closes it and tells `src` with
    /// `LEAVE`, as upstream does.
    fn deliver(&mut self, src: &str, dst: &str, frame: String, out: &mut impl Outbox) {
        let Some(dst_conn) = self.registry.get(dst).map(|r| r.conn) else {
            return;
        };
        if out.send(dst_conn, frame).is_ok() {
            return;
        }
        self.drop_dead(dst, dst_conn, out);
        self.notify(src, wire::notice(Kind::Leave, dst, src), out);
    }

    /// Sends a server notice to `id` if registered; a dead socket is closed, nothing more.
    fn notify(&mut self, id: &str, frame: String, out: &mut impl Outbox) {
        let Some(conn) = self.registry.get(id).map(|r| r.conn) else {
            return;
        };
        if out.send(conn, frame).is_err() {
            self.drop_dead(id, conn, out);
        }
    }

    fn drop_dead(&mut self, id: &str, conn: ConnId, out: &mut impl Outbox) {
        out.close(conn);
        if let Some(id) = self.registry.remove_conn(conn) {
            out.event(RealmEvent::Disconnected {
                id,
                why: Gone::Unreachable,
            });
        } else {
            tracing::trace!(id, "dead socket was already deregistered");
        }
    }
}

fn refuse(conn: ConnId, msg: &'static str, out: &mut impl Outbox) -> bool {
    let _ = out.send(conn, wire::error(msg));
    out.close(conn);
    out.event(RealmEvent::Refused { conn, reason: msg });
    false
}

/// One output of the realm, as a [`Recorder`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send { conn: ConnId, frame: String },
    Close { conn: ConnId },
    Event(RealmEvent),
}

/// An [`Outbox`] that records everything; sockets in `dead` refuse frames.
#[derive(Debug, Default)]
pub struct Recorder {
    pub outputs: Vec<Output>,
    pub dead: HashSet<ConnId>,
}

impl Recorder {
    /// Takes the frames sent so far, as `(conn, frame)`; other outputs stay.
    pub fn take_frames(&mut self) -> Vec<(ConnId, String)> {
        let mut frames = Vec::new();
        self.outputs.retain(|o| match o {
            Output::Send { conn, frame } => {
                frames.push((*conn, frame.clone()));
                false
            }
            _ => true,
        });
        frames
    }

    /// Takes every output so far.
    pub fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }
}

impl Outbox for Recorder {
    fn send(&mut self, conn: ConnId, frame: String) -> Result<(), Undeliverable> {
        if self.dead.contains(&conn) {
            return Err(Undeliverable);
        }
        self.outputs.push(Output::Send { conn, frame });
        Ok(())
    }

    fn close(&mut self, conn: ConnId) {
        self.outputs.push(Output::Close { conn });
    }

    fn event(&mut self, event: RealmEvent) {
        self.outputs.push(Output::Event(event));
    }
}

#[cfg(test)]
#[path = "realm_tests.rs"]
mod tests;
