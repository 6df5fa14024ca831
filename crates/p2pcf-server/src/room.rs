//! Rooms as plain values and the worker's room operations as pure functions of `now_ms`.
//!
//! A room is a list of slots; each slot holds at most one entry. The slot order is the order of
//! `ps`, and a new entry takes the first empty slot, else goes at the end, like the worker's
//! `entries:{i}` keys. Expired entries are invisible at once (the worker shows them until its
//! vacuum runs) and are dropped by [`Room::vacuum`].

use serde::{Deserialize, Serialize};

use crate::request::{LeaveRequest, PollRequest};

/// Entries live at most this long after their last write, whatever `x` says.
pub const MAX_ENTRY_TTL_MS: f64 = 15.0 * 60.0 * 1000.0;

/// A validated room id (`[A-Za-z0-9_-]{4,64}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoomId(pub String);

impl RoomId {
    /// The id as sent by the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The validated `d`, `t`, `x`, `k` of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    pub context_id: String,
    pub session_id: String,
    pub client_id: String,
    pub is_symmetric: bool,
    /// Base64 of the DTLS fingerprint, as sent.
    pub dtls: String,
    pub joined_at_ms: f64,
    pub reflexive_ips: Vec<String>,
    pub timestamp: f64,
    pub expire_in_ms: f64,
}

impl PeerInfo {
    /// `[...d, t]` as JSON text, exactly what other peers get in `ps` (built only on writes).
    pub fn wire(&self) -> String {
        use crate::js::{write_js_number, write_json_str};
        let mut wire = String::with_capacity(128 + 20 * self.reflexive_ips.len());
        wire.push('[');
        write_json_str(&mut wire, &self.session_id);
        wire.push(',');
        write_json_str(&mut wire, &self.client_id);
        wire.push_str(if self.is_symmetric {
            ",true,"
        } else {
            ",false,"
        });
        write_json_str(&mut wire, &self.dtls);
        wire.push(',');
        write_js_number(&mut wire, self.joined_at_ms);
        wire.push_str(",[");
        for (i, ip) in self.reflexive_ips.iter().enumerate() {
            if i > 0 {
                wire.push(',');
            }
            write_json_str(&mut wire, ip);
        }
        wire.push_str("],");
        write_js_number(&mut wire, self.timestamp);
        wire.push(']');
        wire
    }
}

/// One package of `p`: delivered to the session `to` (its item 0, when a string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub to: Option<String>,
    /// The package as JSON text.
    pub wire: String,
}

/// One published peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub context_id: String,
    pub session_id: String,
    pub delete_key: String,
    pub timestamp: f64,
    pub expires_at_ms: f64,
    /// `[...d, t]` as JSON text.
    pub peer_wire: String,
    pub packages: Vec<Package>,
}

impl Entry {
    /// The worker's vacuum deletes a key once `now >= expireAt`.
    pub fn is_live(&self, now_ms: f64) -> bool {
        now_ms < self.expires_at_ms
    }
}

/// The entries of one room, in slot order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub slots: Vec<Option<Entry>>,
}

/// What a poll did, besides its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// The JSON answer (`{"ps":…,"pk":…,"dk"?:…}`).
    pub body: String,
    /// The room was written (a new or refreshed entry).
    pub changed: bool,
    /// A new entry was created (the context id had no live entry).
    pub joined: bool,
}

impl Room {
    /// True when no slot holds an entry.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// Live entries in slot order.
    pub fn live_entries(&self, now_ms: f64) -> impl Iterator<Item = &Entry> {
        self.slots
            .iter()
            .flatten()
            .filter(move |e| e.is_live(now_ms))
    }

    /// Poll, and publish when the request carries `d` and `p` (the worker's `handlePost`).
    /// `new_delete_key` is used when the caller has no live entry yet.
    pub fn poll(&mut self, req: &PollRequest, now_ms: f64, new_delete_key: &str) -> PollOutcome {
        let mut outcome = PollOutcome::default();
        let mut delete_key = None;
        if let (Some(peer), Some(packages)) = (&req.peer, &req.packages) {
            self.drop_expired(now_ms);
            let existing = self
                .slots
                .iter_mut()
                .flatten()
                .find(|e| e.context_id == peer.context_id);
            match existing {
                Some(entry) => {
                    delete_key = Some(entry.delete_key.clone());
                    if entry.timestamp != peer.timestamp {
                        *entry = new_entry(peer, packages, entry.delete_key.clone(), now_ms);
                        outcome.changed = true;
                    }
                }
                None => {
                    let entry = new_entry(peer, packages, new_delete_key.to_owned(), now_ms);
                    match self.slots.iter_mut().find(|s| s.is_none()) {
                        Some(slot) => *slot = Some(entry),
                        None => self.slots.push(Some(entry)),
                    }
                    delete_key = Some(new_delete_key.to_owned());
                    outcome.changed = true;
                    outcome.joined = true;
                }
            }
        }
        outcome.body = self.answer(req, now_ms, delete_key.as_deref());
        outcome
    }

    fn answer(&self, req: &PollRequest, now_ms: f64, delete_key: Option<&str>) -> String {
        let own = req.context_id.as_deref();
        let others = || {
            self.live_entries(now_ms)
                .filter(move |e| Some(e.context_id.as_str()) != own)
        };
        let mut body =
            String::with_capacity(32 + others().map(|e| e.peer_wire.len() + 1).sum::<usize>());
        body.push_str("{\"ps\":[");
        for (i, entry) in others().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&entry.peer_wire);
        }
        body.push_str("],\"pk\":[");
        if let Some(peer) = &req.peer {
            let mut first = true;
            for package in others().flat_map(|e| e.packages.iter()) {
                if package.to.as_deref() == Some(peer.session_id.as_str()) {
                    if !first {
                        body.push(',');
                    }
                    first = false;
                    body.push_str(&package.wire);
                }
            }
        }
        body.push(']');
        if let Some(dk) = delete_key {
            body.push_str(",\"dk\":");
            crate::js::write_json_str(&mut body, dk);
        }
        body.push('}');
        body
    }

    /// Removes the caller's entry (the worker's `handleDelete`); true when one matched.
    pub fn leave(&mut self, req: &LeaveRequest, now_ms: f64) -> bool {
        let Some(target) = &req.target else {
            return false;
        };
        let found = self.slots.iter_mut().find(|slot| {
            slot.as_ref().is_some_and(|e| {
                e.is_live(now_ms)
                    && e.context_id == target.context_id
                    && e.session_id == target.session_id
                    && e.delete_key == target.delete_key
            })
        });
        match found {
            Some(slot) => {
                *slot = None;
                self.trim();
                true
            }
            None => false,
        }
    }

    /// Drops expired entries; returns how many.
    pub fn vacuum(&mut self, now_ms: f64) -> usize {
        let removed = self.drop_expired(now_ms);
        self.trim();
        removed
    }

    fn drop_expired(&mut self, now_ms: f64) -> usize {
        let mut removed = 0;
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|e| !e.is_live(now_ms)) {
                *slot = None;
                removed += 1;
            }
        }
        removed
    }

    // Trailing empty slots change nothing observable: a new entry takes the first empty slot.
    fn trim(&mut self) {
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
    }
}

fn new_entry(peer: &PeerInfo, packages: &[Package], delete_key: String, now_ms: f64) -> Entry {
    Entry {
        context_id: peer.context_id.clone(),
        session_id: peer.session_id.clone(),
        delete_key,
        timestamp: peer.timestamp,
        expires_at_ms: now_ms + MAX_ENTRY_TTL_MS.min(peer.expire_in_ms),
        peer_wire: peer.wire(),
        packages: packages.to_vec(),
    }
}

#[cfg(test)]
#[path = "room_tests.rs"]
mod tests;
