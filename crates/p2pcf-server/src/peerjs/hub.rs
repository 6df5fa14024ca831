//! The realm shared by the sockets: one lock around the [`Realm`] and each socket's outgoing
//! channel, a ticker task, and shutdown. Frames are parsed before the lock is taken, and logs
//! are written after it is released.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

use super::config::PeerJsConfig;
use super::realm::{Dropped, Outbox, Realm, RealmEvent, Undeliverable};
use super::registry::ConnId;
use super::wire::Incoming;

/// How often the ticker runs the realm's clock (expiry precision).
const TICK: Duration = Duration::from_millis(100);

/// What a socket task is told to do.
#[derive(Debug)]
pub(crate) enum Out {
    Frame(String),
    Close,
}

struct Core {
    realm: Realm,
    sockets: HashMap<ConnId, mpsc::Sender<Out>>,
}

/// The PeerJS endpoint's shared state (one per server).
pub struct Hub {
    config: PeerJsConfig,
    path: String,
    core: Mutex<Core>,
    next_conn: AtomicU64,
    start: Instant,
    ticker_started: AtomicBool,
    shutdown: watch::Sender<bool>,
    all_closed: Notify,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub for `config` (the ticker starts with the first socket).
    pub fn new(config: PeerJsConfig) -> Arc<Self> {
        Arc::new(Self {
            path: config.normalized_path(),
            core: Mutex::new(Core {
                realm: Realm::new(&config),
                sockets: HashMap::new(),
            }),
            config,
            next_conn: AtomicU64::new(1),
            start: Instant::now(),
            ticker_started: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            all_closed: Notify::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PeerJsConfig {
        &self.config
    }

    /// The normalised mount path (`/peerjs/`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Registered ids.
    pub fn ids(&self) -> Vec<String> {
        self.lock().realm.ids()
    }

    /// Number of registered ids.
    pub fn registered(&self) -> usize {
        self.lock().realm.registered()
    }

    /// Bytes waiting in offline queues (never above `queue_max_bytes_total`).
    pub fn queued_bytes(&self) -> usize {
        self.lock().realm.queued_bytes()
    }

    /// Open WebSocket connections.
    pub fn sockets(&self) -> usize {
        self.lock().sockets.len()
    }

    /// A fresh id that nobody holds right now.
    pub fn fresh_id(&self) -> String {
        let mut rng = rand::thread_rng();
        loop {
            let id = super::ids::generate(self.config.ids, &mut rng);
            if !self.lock().realm.is_registered(&id) {
                return id;
            }
        }
    }

    /// Closes every socket with 1001 and waits (at most `grace`) until they are gone.
    pub async fn shut_down(&self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let wait = async {
            loop {
                let notified = self.all_closed.notified();
                if self.lock().sockets.is_empty() {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(grace, wait).await;
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// A new socket: its id and the channel its task writes from.
    pub(crate) fn open_socket(self: &Arc<Self>) -> (ConnId, mpsc::Receiver<Out>) {
        self.ensure_ticker();
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.config.socket_send_queue.max(1));
        self.lock().sockets.insert(conn, tx);
        (conn, rx)
    }

    pub(crate) fn connect(&self, conn: ConnId, query: &str) {
        let now = self.now();
        self.with_realm(|realm, out| {
            realm.connect(conn, query, now, out);
        });
    }

    pub(crate) fn message(&self, conn: ConnId, frame: &[u8]) {
        let parsed = Incoming::parse(frame);
        let now = self.now();
        self.with_realm(|realm, out| realm.message(conn, parsed, now, out));
    }

    pub(crate) fn closed(&self, conn: ConnId) {
        let now = self.now();
        let empty = self.with_realm(|realm, out| {
            out.sockets.remove(&conn);
            realm.close(conn, now, out);
            out.sockets.is_empty()
        });
        if empty {
            self.all_closed.notify_waiters();
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Core> {
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_realm<R>(&self, f: impl FnOnce(&mut Realm, &mut Sockets<'_>) -> R) -> R {
        let mut events = Vec::new();
        let result = {
            let mut core = self.lock();
            let Core { realm, sockets } = &mut *core;
            let mut out = Sockets {
                sockets,
                events: &mut events,
            };
            f(realm, &mut out)
        };
        for event in events {
            log(event);
        }
        result
    }

    fn ensure_ticker(self: &Arc<Self>) {
        if self.ticker_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let mut shutdown = self.shutdown.subscribe();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = shutdown.changed() => return,
                }
                let Some(hub) = weak.upgrade() else { return };
                let now = hub.now();
                hub.with_realm(|realm, out| realm.tick(now, out));
            }
        });
    }
}

/// The shell's [`Outbox`]: each socket's bounded channel.
struct Sockets<'a> {
    sockets: &'a mut HashMap<ConnId, mpsc::Sender<Out>>,
    events: &'a mut Vec<RealmEvent>,
}

impl Outbox for Sockets<'_> {
    fn send(&mut self, conn: ConnId, frame: String) -> Result<(), Undeliverable> {
        let tx = self.sockets.get(&conn).ok_or(Undeliverable)?;
        tx.try_send(Out::Frame(frame)).map_err(|_| Undeliverable)
    }

    fn close(&mut self, conn: ConnId) {
        // Dropping the sender ends the task once it has written what is queued, even when
        // the close itself does not fit.
        if let Some(tx) = self.sockets.remove(&conn) {
            let _ = tx.try_send(Out::Close);
        }
    }

    fn event(&mut self, event: RealmEvent) {
        self.events.push(event);
    }
}

fn log(event: RealmEvent) {
    match event {
        RealmEvent::Opened { conn, id } => tracing::info!(conn, %id, "peerjs client connected"),
        RealmEvent::Reattached { conn, id } => {
            tracing::info!(conn, %id, "peerjs client reconnected with its token")
        }
        RealmEvent::Refused { conn, reason } => {
            tracing::info!(conn, reason, "peerjs socket refused")
        }
        RealmEvent::Disconnected { id, why } => {
            tracing::info!(%id, ?why, "peerjs client disconnected")
        }
        RealmEvent::Dropped { conn, why } => match why {
            Dropped::QueueFull(cap) => {
                tracing::debug!(conn, ?cap, "offline queue full; message dropped")
            }
            why => tracing::debug!(conn, ?why, "frame ignored"),
        },
    }
}
