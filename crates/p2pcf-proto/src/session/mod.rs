//! The P2PCF poll protocol as a sans-IO state machine (P2PCF `_step` and
//! `_handleWorkerResponse`), in the style of str0m: feed [`Input`]s with the wall-clock
//! time, drain [`Output`]s with [`Session::poll_output`], and wake up at
//! [`Session::poll_timeout`].
//!
//! Faithful to P2PCF 1.3.14 on the wire and in timing, with these deliberate changes:
//! - the first poll happens as soon as the first network settings arrive (the JS waits
//!   for its first 500 ms interval tick); later polls stay on the 500 ms step grid;
//! - peer B's package is queued when the driver reports gathering complete
//!   ([`Input::InitiatorReady`]), not 3 s after the last candidate;
//! - while any peer is created but not connected, polls happen every
//!   `handshake_polling_rate_ms` (off the grid), and a changed package list is
//!   published at once;
//! - the connect timeout destroys any peer not connected in time (the JS skips peers
//!   whose ICE gathering completed, which in practice disables it);
//! - a `Leave` while a request that may return the delete key is in flight waits for it;
//! - requests and responses that do not match the one in flight are ignored.

mod leave;
mod peers;
mod types;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rand::rngs::StdRng;
use rand::SeedableRng;

pub use types::*;

use crate::config::ClientConfig;
use crate::sdp::NetworkSettings;
use crate::wire::{Package, PeerData, PollRequest, PollResponse};
use crate::SessionId;

/// Packages older than this are dropped before publishing (ICE has timed out by then).
const PACKAGE_MAX_AGE_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextStep {
    At(u64),
    Never,
}

#[derive(Debug)]
enum InFlight {
    /// A regular poll started at `step_now`.
    Poll { id: RequestId, step_now: u64 },
    /// The immediate publish after a first poll that saw an empty room.
    InitialPublish {
        id: RequestId,
        step_now: u64,
        response: PollResponse,
    },
}

impl InFlight {
    fn id(&self) -> RequestId {
        match self {
            InFlight::Poll { id, .. } | InFlight::InitialPublish { id, .. } => *id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Answerer: waits for B's package.
    A,
    /// Initiator: creates the connection and the package.
    B,
}

#[derive(Debug)]
struct PeerState {
    role: Role,
    created_at: u64,
    connected: bool,
    /// Our package for this peer was queued (P2PCF `localPackages.includes(pkg)`).
    package_queued: bool,
    /// Peer B: the synthetic answer is set (P2PCF `peer._pc.remoteDescription`).
    remote_description_set: bool,
    /// Peer B: the credentials invented for A.
    ufrag_for_remote: String,
    pwd_for_remote: String,
}

/// The P2PCF polling and handshake state of one client in one room.
#[derive(Debug)]
pub struct Session {
    config: ClientConfig,
    identity: LocalIdentity,
    rng: StdRng,
    settings: Option<NetworkSettings>,
    /// Time of the first network settings: the origin of the 500 ms step grid.
    grid_origin: u64,
    next_step: NextStep,
    in_flight: Option<InFlight>,
    leave_request: Option<RequestId>,
    /// Leave requested while waiting for a delete key from the request in flight.
    leave_pending: bool,
    finished: bool,
    delete_key: Option<String>,
    sent_first_poll: bool,
    data_timestamp: Option<u64>,
    packages: Vec<Package>,
    last_packages: Option<Vec<Package>>,
    last_processed: HashMap<SessionId, i64>,
    package_received: HashSet<SessionId>,
    peers: BTreeMap<SessionId, PeerState>,
    /// A room change was announced while a request was in flight.
    poll_again: bool,
    /// Remote peers seen in `ps` without a local connection, and since when.
    awaiting_package: HashMap<SessionId, u64>,
    stop_fast_polling_at: u64,
    start_idle_polling_at: Option<u64>,
    consecutive_failures: u32,
    next_request_id: RequestId,
    outputs: VecDeque<Output>,
}

impl Session {
    /// A session for `identity`. `config` should have been [`ClientConfig::validate`]d;
    /// `rng_seed` seeds the generator for ICE credentials (use OS randomness in production).
    pub fn new(config: ClientConfig, identity: LocalIdentity, rng_seed: [u8; 32]) -> Self {
        let start = identity.joined_at_ms;
        Self {
            stop_fast_polling_at: start + config.fast_polling_duration_ms,
            start_idle_polling_at: config.idle_polling_after_ms.map(|d| start + d),
            config,
            identity,
            rng: StdRng::from_seed(rng_seed),
            settings: None,
            grid_origin: 0,
            next_step: NextStep::At(0),
            in_flight: None,
            leave_request: None,
            leave_pending: false,
            finished: false,
            delete_key: None,
            sent_first_poll: false,
            data_timestamp: None,
            packages: Vec::new(),
            last_packages: None,
            last_processed: HashMap::new(),
            package_received: HashSet::new(),
            peers: BTreeMap::new(),
            awaiting_package: HashMap::new(),
            poll_again: false,
            consecutive_failures: 0,
            next_request_id: 1,
            outputs: VecDeque::new(),
        }
    }

    /// The identity given at construction.
    pub fn identity(&self) -> &LocalIdentity {
        &self.identity
    }

    /// The delete key of our worker entry, once known.
    pub fn delete_key(&self) -> Option<&str> {
        self.delete_key.as_deref()
    }

    /// Whether `Leave` was handled (no more polling).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Sessions of peers currently known (created, connected or not).
    pub fn peers(&self) -> impl Iterator<Item = (&SessionId, bool)> {
        self.peers.iter().map(|(id, p)| (id, p.connected))
    }

    /// The packages waiting to be (or being) published.
    pub fn pending_packages(&self) -> &[Package] {
        &self.packages
    }

    /// The next output to act on.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed the next [`Input::Timeout`], if anything is scheduled.
    pub fn poll_timeout(&self) -> Option<u64> {
        let deadlines = self
            .peers
            .values()
            .filter(|p| !p.connected)
            .map(|p| p.created_at + self.config.connect_timeout_ms);
        let step = match self.next_step {
            NextStep::At(t) if self.can_step() => Some(t),
            _ => None,
        };
        deadlines.chain(step).min()
    }

    /// Feeds one input; then runs whatever became due at its time.
    pub fn handle_input(&mut self, input: Input) {
        let now = input.now();
        match input {
            Input::Timeout { .. } => {}
            Input::NetworkSettings { settings, .. } => self.on_network_settings(now, settings),
            Input::PollSucceeded {
                request_id,
                response,
                ..
            } => self.on_poll_succeeded(now, request_id, response),
            Input::PollFailed {
                request_id, error, ..
            } => self.on_poll_failed(now, request_id, error),
            Input::InitiatorReady {
                peer,
                ufrag,
                pwd,
                dtls_fingerprint_b64,
                candidates,
                ..
            } => self.on_initiator_ready(now, peer, ufrag, pwd, dtls_fingerprint_b64, candidates),
            Input::AnswererCandidates {
                peer, candidates, ..
            } => self.on_answerer_candidates(now, peer, candidates),
            Input::PeerConnected { peer, .. } => self.on_peer_connected(peer),
            Input::PeerClosed { peer, .. } => self.remove_peer(&peer, None),
            Input::Leave { .. } => self.on_leave(now),
            Input::RoomChanged { .. } => self.on_room_changed(now),
        }
        self.run_due(now);
    }

    fn can_step(&self) -> bool {
        !self.finished && self.settings.is_some() && self.in_flight.is_none()
    }

    fn run_due(&mut self, now: u64) {
        let timeout = self.config.connect_timeout_ms;
        let expired: Vec<SessionId> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.connected && now >= p.created_at + timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::debug!(peer = %id, "peer did not connect in time");
            self.remove_peer(&id, Some(DestroyReason::ConnectTimeout));
        }
        if let NextStep::At(t) = self.next_step {
            if self.can_step() && now >= t {
                self.step(now);
            }
        }
    }

    fn on_room_changed(&mut self, now: u64) {
        // Before network settings nothing polls yet; the first poll will see the change.
        if self.finished || self.settings.is_none() {
            return;
        }
        if self.in_flight.is_some() {
            // The answer in flight may predate the change: poll again right after it.
            self.poll_again = true;
        } else {
            self.next_step = NextStep::At(now);
        }
    }

    fn on_network_settings(&mut self, now: u64, new: NetworkSettings) {
        match &self.settings {
            None => {
                self.grid_origin = now;
                self.next_step = NextStep::At(now);
            }
            Some(old) => {
                let same_ips = new.reflexive_ips.len() == old.reflexive_ips.len()
                    && new
                        .reflexive_ips
                        .iter()
                        .all(|ip| old.reflexive_ips.contains(ip))
                    && old
                        .reflexive_ips
                        .iter()
                        .all(|ip| new.reflexive_ips.contains(ip));
                if new.udp_enabled != old.udp_enabled
                    || new.is_symmetric != old.is_symmetric
                    || !same_ips
                {
                    tracing::debug!("network settings changed; re-publishing");
                    self.data_timestamp = None;
                }
            }
        }
        self.settings = Some(new);
    }

    fn local_peer_data(&self) -> PeerData {
        let settings = self.settings.clone().unwrap_or_default();
        PeerData {
            session_id: self.identity.session_id.clone(),
            client_id: self.identity.client_id.clone(),
            is_symmetric: settings.is_symmetric,
            dtls_fingerprint_b64: self.identity.dtls_fingerprint_b64.clone(),
            joined_at_ms: self.identity.joined_at_ms as i64,
            reflexive_ips: settings.reflexive_ips,
        }
    }

    fn base_request(&self) -> PollRequest {
        PollRequest {
            room: self.identity.room_id.clone(),
            context: self.identity.context_id.clone(),
            delete_key: None,
            data: None,
            data_timestamp: None,
            expiration_ms: None,
            packages: None,
        }
    }

    /// The `expired || packagesChanged` part of `_step`: refresh `t`, prune old packages.
    fn refresh_data(&mut self, now: u64) -> bool {
        let heartbeat_after = self
            .config
            .state_expiration_interval_ms
            .saturating_sub(self.config.state_heartbeat_window_ms);
        let expired = self
            .data_timestamp
            .is_none_or(|t| now.saturating_sub(t) >= heartbeat_after);
        let changed = self.last_packages.as_ref() != Some(&self.packages);
        if expired || changed {
            self.data_timestamp = Some(now);
            self.packages
                .retain(|p| now as i64 - p.created_at_ms <= PACKAGE_MAX_AGE_MS as i64);
        }
        expired || changed
    }

    fn with_data(&self, mut req: PollRequest) -> PollRequest {
        req.data = Some(self.local_peer_data());
        req.data_timestamp = self.data_timestamp.map(|t| t as i64);
        req.expiration_ms = Some(self.config.state_expiration_interval_ms);
        req
    }

    fn send(&mut self, body: PollRequest, leave: bool) -> RequestId {
        let id = self.next_request_id;
        self.next_request_id += 1;
        tracing::trace!(id, leave, body = %body.to_json(), "worker request");
        self.outputs
            .push_back(Output::SendRequest { id, body, leave });
        id
    }

    fn step(&mut self, now: u64) {
        let include_packages = self.refresh_data(now);
        let mut req = self.base_request();
        if self.sent_first_poll {
            req = self.with_data(req);
            if include_packages {
                req.packages = Some(self.packages.clone());
                self.last_packages = Some(self.packages.clone());
            }
        }
        let id = self.send(req, false);
        self.in_flight = Some(InFlight::Poll { id, step_now: now });
    }

    fn learn_delete_key(&mut self, dk: Option<String>) {
        if let Some(dk) = dk {
            if self.delete_key.is_none() {
                self.outputs
                    .push_back(Output::Event(SessionEvent::Published {
                        delete_key: dk.clone(),
                    }));
            }
            self.delete_key = Some(dk);
        }
    }

    fn on_poll_succeeded(&mut self, now: u64, id: RequestId, response: PollResponse) {
        if self.leave_request == Some(id) {
            self.leave_request = None;
            self.outputs.push_back(Output::Event(SessionEvent::Left {
                delete_key_sent: true,
                error: None,
            }));
            return;
        }
        let Some(in_flight) = self.in_flight.take_if(|f| f.id() == id) else {
            tracing::debug!(id, "ignoring response to a request not in flight");
            return;
        };
        if self.consecutive_failures > 0 {
            self.outputs
                .push_back(Output::Event(SessionEvent::SignallingRecovered {
                    after_failures: self.consecutive_failures,
                }));
            self.consecutive_failures = 0;
        }
        let PollResponse {
            peers,
            packages,
            delete_key,
            skipped_items,
        } = response;
        if skipped_items > 0 {
            tracing::debug!(skipped_items, "worker response had malformed items");
        }
        self.learn_delete_key(delete_key);
        if self.finished {
            self.finish_leave_if_pending(now);
            return;
        }
        let (step_now, response) = match in_flight {
            InFlight::Poll { step_now, .. } => {
                let response = PollResponse {
                    peers,
                    packages,
                    delete_key: None,
                    skipped_items,
                };
                if response.peers.is_empty() && !self.sent_first_poll {
                    // Empty room on the first read: publish at once.
                    let mut req = self.with_data(self.base_request());
                    req.packages = Some(self.packages.clone());
                    self.last_packages = Some(self.packages.clone());
                    let id = self.send(req, false);
                    self.in_flight = Some(InFlight::InitialPublish {
                        id,
                        step_now,
                        response,
                    });
                    return;
                }
                (step_now, response)
            }
            InFlight::InitialPublish {
                step_now, response, ..
            } => (step_now, response),
        };
        self.sent_first_poll = true;
        let previous: HashSet<SessionId> = self.peers.keys().cloned().collect();
        let active: Vec<SessionId> = response
            .peers
            .iter()
            .map(|p| p.data.session_id.clone())
            .collect();
        self.handle_worker_response(now, &response);
        // Remote peers we have no connection for yet are waiting on a package (we are their
        // peer A); poll at the handshake rate for them too, for at most the connect timeout.
        self.awaiting_package.retain(|id, _| active.contains(id));
        for id in &active {
            if !self.peers.contains_key(id) {
                self.awaiting_package.entry(id.clone()).or_insert(now);
            } else {
                self.awaiting_package.remove(id);
            }
        }
        let peers_changed = previous.len() != active.len()
            || active.iter().any(|id| !previous.contains(id))
            || previous.iter().any(|id| !active.contains(id));
        if peers_changed {
            self.stop_fast_polling_at = step_now + self.config.fast_polling_duration_ms;
            self.start_idle_polling_at = self.config.idle_polling_after_ms.map(|d| step_now + d);
        }
        self.schedule_after_poll(step_now, now);
    }

    /// `nextStepTime` as `_step` computes it, placed on the step grid (P2PCF steps only on
    /// 500 ms interval ticks) — or earlier while a handshake is pending.
    fn schedule_after_poll(&mut self, step_now: u64, now: u64) {
        if std::mem::take(&mut self.poll_again) {
            self.next_step = NextStep::At(now);
            return;
        }
        let c = &self.config;
        let rate = if step_now < self.stop_fast_polling_at {
            Some(c.fast_polling_rate_ms)
        } else if self.start_idle_polling_at.is_some_and(|t| step_now > t) {
            c.idle_polling_rate_ms
        } else {
            Some(c.slow_polling_rate_ms)
        };
        if self.handshake_pending(step_now) {
            let r = rate.map_or(c.handshake_polling_rate_ms, |r| {
                r.min(c.handshake_polling_rate_ms)
            });
            self.next_step = NextStep::At((step_now + r).max(now));
            return;
        }
        self.next_step = match rate {
            Some(r) => NextStep::At(self.on_grid((step_now + r).max(now))),
            None => NextStep::Never,
        };
    }

    fn on_grid(&self, t: u64) -> u64 {
        let step = self.config.step_interval_ms.max(1);
        let since = t.saturating_sub(self.grid_origin);
        self.grid_origin + since.div_ceil(step) * step
    }

    fn handshake_pending(&self, now: u64) -> bool {
        self.peers.values().any(|p| !p.connected)
            || self
                .awaiting_package
                .values()
                .any(|&since| now.saturating_sub(since) < self.config.connect_timeout_ms)
    }

    fn on_poll_failed(&mut self, now: u64, id: RequestId, error: PollError) {
        if self.leave_request == Some(id) {
            self.leave_request = None;
            self.outputs.push_back(Output::Event(SessionEvent::Left {
                delete_key_sent: true,
                error: Some(error),
            }));
            return;
        }
        let Some(in_flight) = self.in_flight.take_if(|f| f.id() == id) else {
            tracing::debug!(id, "ignoring failure of a request not in flight");
            return;
        };
        self.consecutive_failures += 1;
        tracing::warn!(status = ?error.status, text = %error.text, "worker request failed");
        self.outputs
            .push_back(Output::Event(SessionEvent::SignallingError {
                status: error.status,
                text: error.text,
                consecutive_failures: self.consecutive_failures,
            }));
        if self.finished {
            self.finish_leave_if_pending(now);
            return;
        }
        let step_now = match in_flight {
            InFlight::Poll { step_now, .. } | InFlight::InitialPublish { step_now, .. } => step_now,
        };
        self.next_step =
            NextStep::At(self.on_grid((step_now + self.config.slow_polling_rate_ms).max(now)));
    }
}

#[cfg(test)]
mod tests;
