//! Registered ids: which socket speaks for which id, with its token and last heartbeat.
//! A socket speaks for at most one id and an id has exactly one socket, so a socket that lost
//! its id (re-attach, `LEAVE`, reaping) can never deregister a later holder.

use std::collections::HashMap;
use std::sync::Arc;

/// A WebSocket connection, numbered by the shell.
pub type ConnId = u64;

/// One registered id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub token: Box<str>,
    pub conn: ConnId,
    pub last_ping: u64,
}

/// All registered ids.
#[derive(Debug, Default)]
pub struct Registry {
    by_id: HashMap<Arc<str>, Registration>,
    by_conn: HashMap<ConnId, Arc<str>>,
}

impl Registry {
    /// The registration of `id`.
    pub fn get(&self, id: &str) -> Option<&Registration> {
        self.by_id.get(id)
    }

    /// The id `conn` speaks for.
    pub fn id_of(&self, conn: ConnId) -> Option<&Arc<str>> {
        self.by_conn.get(&conn)
    }

    /// Registers `id` (not registered yet) for `conn`.
    pub fn insert(&mut self, id: &str, token: &str, conn: ConnId, now: u64) -> Arc<str> {
        let id: Arc<str> = Arc::from(id);
        self.by_id.insert(
            id.clone(),
            Registration {
                token: token.into(),
                conn,
                last_ping: now,
            },
        );
        self.by_conn.insert(conn, id.clone());
        id
    }

    /// Moves registered `id` to `conn` (its liveness restarts now); returns the previous socket.
    pub fn reattach(&mut self, id: &str, conn: ConnId, now: u64) -> Option<ConnId> {
        let (key, registration) = self.by_id.get_key_value(id)?;
        let key = key.clone();
        let old = registration.conn;
        self.by_conn.remove(&old);
        self.by_conn.insert(conn, key.clone());
        let registration = self.by_id.get_mut(&key)?;
        registration.conn = conn;
        registration.last_ping = now;
        Some(old)
    }

    /// Deregisters `id`; returns its socket.
    pub fn remove(&mut self, id: &str) -> Option<ConnId> {
        let registration = self.by_id.remove(id)?;
        self.by_conn.remove(&registration.conn);
        Some(registration.conn)
    }

    /// Deregisters whatever id `conn` speaks for.
    pub fn remove_conn(&mut self, conn: ConnId) -> Option<Arc<str>> {
        let id = self.by_conn.remove(&conn)?;
        self.by_id.remove(&id);
        Some(id)
    }

    /// Records a heartbeat from `conn`.
    pub fn heartbeat(&mut self, conn: ConnId, now: u64) {
        if let Some(id) = self.by_conn.get(&conn) {
            if let Some(registration) = self.by_id.get_mut(id) {
                registration.last_ping = now;
            }
        }
    }

    /// Ids whose last heartbeat is at least `alive_timeout` old.
    pub fn silent_since(&self, now: u64, alive_timeout: u64) -> Vec<Arc<str>> {
        self.by_id
            .iter()
            .filter(|(_, r)| now.saturating_sub(r.last_ping) >= alive_timeout)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Number of registered ids.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// No registered id.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every registered id (for discovery).
    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().map(|id| id.to_string()).collect()
    }
}
