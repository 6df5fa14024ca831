//! Leaving the room: P2PCF `destroy()` and `_step(true)`.

use super::{DestroyReason, Output, Session, SessionEvent};
use crate::SessionId;

impl Session {
    pub(super) fn on_leave(&mut self, now: u64) {
        if self.finished {
            return;
        }
        self.finished = true;
        let ids: Vec<SessionId> = self.peers.keys().cloned().collect();
        for id in ids {
            self.remove_peer(&id, Some(DestroyReason::Leaving));
        }
        if self.delete_key.is_some() {
            self.send_leave(now);
        } else if self.in_flight.is_some() {
            // The request in flight may publish and return the delete key.
            self.leave_pending = true;
        } else {
            self.outputs.push_back(Output::Event(SessionEvent::Left {
                delete_key_sent: false,
                error: None,
            }));
        }
    }

    pub(super) fn finish_leave_if_pending(&mut self, now: u64) {
        if !std::mem::take(&mut self.leave_pending) {
            return;
        }
        if self.delete_key.is_some() {
            self.send_leave(now);
        } else {
            self.outputs.push_back(Output::Event(SessionEvent::Left {
                delete_key_sent: false,
                error: None,
            }));
        }
    }

    /// `_step(true)`: `{r, k, dk, d, t, x}`. (The JS omits `d` before its first poll
    /// completed, which the worker answers with 404; with a delete key we always send it.)
    fn send_leave(&mut self, now: u64) {
        self.refresh_data(now);
        let mut req = self.with_data(self.base_request());
        req.delete_key = self.delete_key.clone();
        let id = self.send(req, true);
        self.leave_request = Some(id);
    }
}
