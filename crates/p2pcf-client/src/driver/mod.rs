//! The driver: one task owns the sans-IO [`Session`] and every peer link, and turns session
//! outputs into HTTP requests and webrtc-rs calls. Everything asynchronous (requests, link
//! creation, network probes) runs in spawned tasks that report back on a channel, so the loop
//! never blocks on I/O.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use p2pcf_proto::chunk::{self, ChunkOutcome, Reassembler, ReassemblerLimits};
use p2pcf_proto::config::ClientConfig;
use p2pcf_proto::sdp::{self, NetworkSettings};
use p2pcf_proto::session::{
    CreateAnswerer, CreateInitiator, DestroyReason, Input, LocalIdentity, Output, PollError,
    RequestId, Session, SessionEvent,
};
use p2pcf_proto::signal::{self, Incoming};
use p2pcf_proto::wire::PollResponse;
use p2pcf_proto::{ClientId, ContextId, RoomId, SessionId};
use rand::RngCore;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::client::{ClientError, ClientEvent, Command};
use crate::outgoing::{self, Outgoing};
use crate::rtc::{
    self, AnswererParams, InitiatorParams, LinkEvent, LinkEvents, LinkKey, LocalCertificate,
    LocalOffer, PeerLink, RtcError, RtcOptions,
};
use crate::transport::{Transport, TransportError};

mod media;

use crate::rtc::LocalTrack;
use media::{MediaStep, PeerMedia};

/// P2PCF caps the network probe at 5 s.
const NETWORK_PROBE_CAP: Duration = Duration::from_secs(5);
/// The first probe reports what it found after this long, so an unreachable or slow STUN
/// server cannot hold up joining; the full probe follows, and a difference re-publishes.
const FIRST_PROBE_CAP: Duration = Duration::from_millis(400);
/// How long our server may hold a watch request (long-poll extension).
const WATCH_WAIT: Duration = Duration::from_secs(25);
/// After a failed watch request, try again after this long (plain polling goes on meanwhile).
const WATCH_RETRY: Duration = Duration::from_secs(5);
/// After a leave request, give up waiting for the worker's answer after this long.
const LEAVE_GRACE: Duration = Duration::from_secs(12);

pub(crate) struct Setup {
    pub room: RoomId,
    pub client_id: ClientId,
    pub config: ClientConfig,
    pub rtc: RtcOptions,
    pub transport: Arc<dyn Transport>,
}

pub(crate) struct Started {
    pub session_id: SessionId,
    pub context_id: ContextId,
}

/// Results of spawned work, reported back to the loop.
enum Report {
    Response {
        id: RequestId,
        result: Result<String, TransportError>,
    },
    Network {
        result: Result<rtc::NetworkSettings, RtcError>,
        /// More results of the same probe follow.
        partial: bool,
    },
    LinkCreated {
        key: LinkKey,
        result: Result<(Arc<PeerLink>, Option<LocalOffer>), RtcError>,
    },
    /// The server announced a change in the room (long-poll extension).
    RoomChanged,
    /// A peer's media worker finished a step.
    Media { key: LinkKey, step: MediaStep },
}

struct PeerEntry {
    key: LinkKey,
    client_id: ClientId,
    initiator: bool,
    link: Option<Arc<PeerLink>>,
    offer: Option<LocalOffer>,
    gathered: Option<Vec<String>>,
    /// Candidates to add once the link exists.
    early_candidates: Vec<String>,
    connected: bool,
    reassembler: Reassembler,
    writer: Option<mpsc::Sender<Outgoing>>,
    /// Set once the data channel opened.
    media: Option<PeerMedia>,
}

pub(crate) async fn start(
    setup: Setup,
    commands: mpsc::Receiver<Command>,
    events: mpsc::UnboundedSender<ClientEvent>,
) -> Result<Started, ClientError> {
    let mut setup = setup;
    if setup.rtc.receive_budget.is_none() {
        setup.rtc.receive_budget = Some(rtc::ReceiveBudget::new(rtc::DEFAULT_RECEIVE_BUDGET));
    }
    let cert = LocalCertificate::generate()?;
    let mut rng = rand::rngs::OsRng;
    let session_id = sdp::new_session_id(&mut rng);
    let context_id = ContextId::from_wire(sdp::random_id(&mut rng, 20));
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let identity = LocalIdentity {
        room_id: setup.room.clone(),
        session_id: session_id.clone(),
        context_id: context_id.clone(),
        client_id: setup.client_id.clone(),
        dtls_fingerprint_b64: cert.fingerprint_b64(),
        joined_at_ms: now_ms(),
    };
    tracing::info!(room = %setup.room, session = %session_id, "joining");
    let session = Session::new(setup.config.clone(), identity, seed);
    let (reports, report_rx) = mpsc::unbounded_channel();
    let watch_body = serde_json::json!({ "r": setup.room.as_str(), "k": context_id.to_string() });
    let watcher = tokio::spawn(watch_room(
        Arc::clone(&setup.transport),
        watch_body.to_string(),
        reports.clone(),
    ));
    let (link_events, link_rx) = mpsc::unbounded_channel();
    let driver = Driver {
        session,
        config: setup.config,
        rtc: setup.rtc,
        transport: setup.transport,
        cert: Arc::new(cert),
        peers: HashMap::new(),
        keys: HashMap::new(),
        next_generation: 0,
        reports,
        link_events,
        events,
        leave_waiters: Vec::new(),
        leave_deadline: None,
        probing: false,
        announced_join: false,
        watcher,
        local_tracks: Vec::new(),
    };
    tokio::spawn(driver.run(commands, report_rx, link_rx));
    Ok(Started {
        session_id,
        context_id,
    })
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct Driver {
    session: Session,
    config: ClientConfig,
    rtc: RtcOptions,
    transport: Arc<dyn Transport>,
    cert: Arc<LocalCertificate>,
    peers: HashMap<SessionId, PeerEntry>,
    /// Link key → peer; keys carry a generation so a recreated peer ignores the old link's events.
    keys: HashMap<LinkKey, SessionId>,
    next_generation: u64,
    reports: mpsc::UnboundedSender<Report>,
    link_events: LinkEvents,
    events: mpsc::UnboundedSender<ClientEvent>,
    leave_waiters: Vec<oneshot::Sender<()>>,
    leave_deadline: Option<Instant>,
    probing: bool,
    announced_join: bool,
    watcher: tokio::task::JoinHandle<()>,
    /// Tracks shared with every peer, current and future.
    local_tracks: Vec<LocalTrack>,
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut reports: mpsc::UnboundedReceiver<Report>,
        mut link_events: mpsc::UnboundedReceiver<(LinkKey, LinkEvent)>,
    ) {
        self.probe_network(true);
        let network_interval = Duration::from_millis(self.config.network_change_poll_interval_ms);
        let mut next_probe = Instant::now() + network_interval;
        let mut commands_open = true;
        loop {
            if self.drain_outputs() {
                break;
            }
            let wake = self.next_wake(next_probe);
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {
                    if self.leave_deadline.is_some_and(|d| Instant::now() >= d) {
                        tracing::warn!("leave request unanswered; leaving anyway");
                        break;
                    }
                    if Instant::now() >= next_probe {
                        next_probe = Instant::now() + network_interval;
                        self.probe_network(false);
                    }
                    self.session.handle_input(Input::Timeout { now: now_ms() });
                }
                command = commands.recv(), if commands_open => match command {
                    Some(command) => self.command(command),
                    None => {
                        // Every handle was dropped: leave the room.
                        commands_open = false;
                        self.begin_leave();
                    }
                },
                Some(report) = reports.recv() => self.report(report),
                Some((key, event)) = link_events.recv() => self.link_event(key, event),
            }
        }
        self.finish();
    }

    fn next_wake(&self, next_probe: Instant) -> Instant {
        let mut wake = next_probe;
        if let Some(at) = self.session.poll_timeout() {
            let delay = Duration::from_millis(at.saturating_sub(now_ms()));
            wake = wake.min(Instant::now() + delay);
        }
        if let Some(deadline) = self.leave_deadline {
            wake = wake.min(deadline);
        }
        wake
    }

    /// Executes session outputs; returns true when the session has left.
    fn drain_outputs(&mut self) -> bool {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::SendRequest { id, body, leave } => {
                    self.send_request(id, body.to_json(), leave)
                }
                Output::CreateInitiator(create) => self.create_initiator(create),
                Output::CreateAnswerer(create) => self.create_answerer(create),
                Output::AddRemoteCandidates { peer, candidates } => {
                    self.add_candidates(&peer, candidates)
                }
                Output::DestroyPeer { peer, reason } => {
                    tracing::debug!(peer = %peer, ?reason, "destroying peer");
                    let reason = match reason {
                        DestroyReason::ConnectTimeout => "not connected in time",
                        DestroyReason::NotInPeerList => "left the room before connecting",
                        DestroyReason::Leaving => "we are leaving the room",
                    };
                    self.remove_peer(&peer, true, reason);
                }
                Output::Event(event) => {
                    if self.session_event(event) {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn session_event(&mut self, event: SessionEvent) -> bool {
        match event {
            SessionEvent::Published { .. } => {
                if !self.announced_join {
                    self.announced_join = true;
                    let session_id = self.session.identity().session_id.clone();
                    self.emit(ClientEvent::Joined { session_id });
                }
            }
            SessionEvent::SignallingError {
                status,
                text,
                consecutive_failures,
            } => {
                tracing::warn!(?status, %text, consecutive_failures, "signalling request failed");
                self.emit(ClientEvent::SignallingError {
                    status,
                    text,
                    consecutive_failures,
                });
            }
            SessionEvent::SignallingRecovered { .. } => self.emit(ClientEvent::SignallingRecovered),
            SessionEvent::Left { error, .. } => {
                if let Some(error) = error {
                    tracing::warn!(?error, "leave request failed");
                }
                return true;
            }
        }
        false
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Send {
                to,
                data,
                progress,
                done,
            } => match self.peers.get(&to).and_then(|p| p.writer.clone()) {
                Some(writer) => outgoing::enqueue(writer, data, progress, done),
                None => {
                    let _ = done.send(Err(ClientError::UnknownPeer(to.to_string())));
                }
            },
            Command::Broadcast { data, done } => {
                let targets: Vec<_> = self
                    .peers
                    .iter()
                    .filter_map(|(id, p)| p.writer.clone().map(|w| (id.clone(), w)))
                    .collect();
                outgoing::broadcast(targets, data, done);
            }
            Command::Peers { reply } => {
                let connected = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.connected)
                    .map(|(id, p)| (id.clone(), p.client_id.clone()))
                    .collect();
                let _ = reply.send(connected);
            }
            Command::SocketReport { peer, reply } => {
                let report = self
                    .peers
                    .get(&peer)
                    .and_then(|p| p.link.as_ref())
                    .map(|link| link.socket_report());
                let _ = reply.send(report);
            }
            Command::AddTrack { track, done } => self.add_track(track, done),
            Command::RemoveTrack { track_id, done } => self.remove_track(&track_id, done),
            Command::Leave { done } => {
                self.leave_waiters.push(done);
                self.begin_leave();
            }
        }
    }

    fn begin_leave(&mut self) {
        if self.leave_deadline.is_none() {
            self.leave_deadline = Some(Instant::now() + LEAVE_GRACE);
            self.session.handle_input(Input::Leave { now: now_ms() });
        }
    }

    fn report(&mut self, report: Report) {
        match report {
            Report::Response { id, result } => {
                let now = now_ms();
                let input = match result {
                    Ok(body) => match PollResponse::from_json(body.as_bytes()) {
                        Ok(response) => Input::PollSucceeded {
                            now,
                            request_id: id,
                            response,
                        },
                        Err(e) => Input::PollFailed {
                            now,
                            request_id: id,
                            error: PollError {
                                status: None,
                                text: format!("unreadable answer: {e}"),
                            },
                        },
                    },
                    Err(e) => Input::PollFailed {
                        now,
                        request_id: id,
                        error: PollError {
                            status: e.status(),
                            text: match e {
                                TransportError::Rejected { text, .. } => text,
                                other => other.to_string(),
                            },
                        },
                    },
                };
                self.session.handle_input(input);
            }
            Report::Network { result, partial } => {
                self.probing = partial;
                match result {
                    Ok(found) => self.session.handle_input(Input::NetworkSettings {
                        now: now_ms(),
                        settings: NetworkSettings {
                            udp_enabled: found.udp_enabled,
                            is_symmetric: found.is_symmetric,
                            reflexive_ips: found.reflexive_ips,
                        },
                    }),
                    Err(e) => tracing::warn!("network probe failed: {e}"),
                }
            }
            Report::LinkCreated { key, result } => self.link_created(key, result),
            Report::RoomChanged => self
                .session
                .handle_input(Input::RoomChanged { now: now_ms() }),
            Report::Media { key, step } => self.media_step(&key, step),
        }
    }

    fn link_created(
        &mut self,
        key: LinkKey,
        result: Result<(Arc<PeerLink>, Option<LocalOffer>), RtcError>,
    ) {
        let Some(peer) = self.keys.get(&key).cloned() else {
            // The peer was destroyed meanwhile.
            if let Ok((link, _)) = result {
                tokio::spawn(async move { link.close().await });
            }
            return;
        };
        match result {
            Ok((link, offer)) => {
                if let Some(entry) = self.peers.get_mut(&peer) {
                    entry.link = Some(Arc::clone(&link));
                    entry.offer = offer;
                    let early = std::mem::take(&mut entry.early_candidates);
                    if !early.is_empty() {
                        spawn_add_candidates(link, early);
                    }
                }
                self.maybe_ready(&peer);
            }
            Err(e) => {
                tracing::warn!(peer = %peer, "peer connection setup failed: {e}");
                self.remove_peer(&peer, false, &format!("connection setup failed: {e}"));
                self.session.handle_input(Input::PeerClosed {
                    now: now_ms(),
                    peer,
                });
            }
        }
    }

    /// Tells the session a side's half of the handshake is ready once gathering completed.
    fn maybe_ready(&mut self, peer: &SessionId) {
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        if entry.link.is_none() {
            return;
        }
        let Some(candidates) = entry.gathered.take() else {
            return;
        };
        let now = now_ms();
        if entry.initiator {
            let Some(offer) = entry.offer.take() else {
                return;
            };
            self.session.handle_input(Input::InitiatorReady {
                now,
                peer: peer.clone(),
                ufrag: offer.ufrag,
                pwd: offer.pwd,
                dtls_fingerprint_b64: offer.dtls_b64,
                candidates,
            });
        } else {
            self.session.handle_input(Input::AnswererCandidates {
                now,
                peer: peer.clone(),
                candidates,
            });
        }
    }

    fn link_event(&mut self, key: LinkKey, event: LinkEvent) {
        let Some(peer) = self.keys.get(&key).cloned() else {
            return;
        };
        tracing::trace!(peer = %peer, event = event.name(), "link event");
        match event {
            LinkEvent::CandidatesGathered(candidates) => {
                if let Some(entry) = self.peers.get_mut(&peer) {
                    entry.gathered = Some(candidates);
                }
                self.maybe_ready(&peer);
            }
            LinkEvent::Open => self.peer_open(&peer),
            LinkEvent::Track(track) => {
                tracing::info!(peer = %peer, kind = track.kind(), "remote track started");
                self.emit(ClientEvent::TrackStarted { from: peer, track });
            }
            LinkEvent::KeyframeRequested => self.keyframe_requested(&peer),
            LinkEvent::Message(data) => self.peer_message(&peer, data),
            LinkEvent::Closed | LinkEvent::Failed(_) => {
                let reason = match &event {
                    LinkEvent::Failed(reason) => {
                        tracing::info!(peer = %peer, %reason, "peer connection failed");
                        reason.clone()
                    }
                    _ => "connection closed".to_owned(),
                };
                self.remove_peer(&peer, false, &reason);
                self.session.handle_input(Input::PeerClosed {
                    now: now_ms(),
                    peer,
                });
            }
        }
    }

    fn peer_open(&mut self, peer: &SessionId) {
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(link) = entry.link.clone() else {
            return;
        };
        entry.connected = true;
        let sockets = link.socket_report();
        tracing::info!(
            peer = %peer,
            requested = sockets.requested(),
            granted = ?sockets.min_granted(),
            "UDP receive buffer"
        );
        entry.writer = Some(outgoing::spawn_writer(link));
        let client_id = entry.client_id.clone();
        self.media_connected(peer);
        tracing::info!(peer = %peer, client = %client_id, "peer connected");
        self.session.handle_input(Input::PeerConnected {
            now: now_ms(),
            peer: peer.clone(),
        });
        self.emit(ClientEvent::PeerConnected {
            session_id: peer.clone(),
            client_id,
        });
    }

    fn peer_message(&mut self, peer: &SessionId, data: Bytes) {
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        let complete: Bytes = if chunk::is_chunk(&data) {
            match entry.reassembler.push(now_ms(), &data) {
                // Charged until the application drops it (receive-side flow control).
                Ok(ChunkOutcome::Complete(message)) => match &self.rtc.receive_budget {
                    Some(budget) => budget.charge(message),
                    None => Bytes::from(message),
                },
                Ok(ChunkOutcome::Pending | ChunkOutcome::Duplicate) => return,
                Err(e) => {
                    tracing::warn!(peer = %peer, "dropped chunk: {e}");
                    self.emit(ClientEvent::MessageDropped {
                        from: peer.clone(),
                        reason: e.to_string(),
                    });
                    return;
                }
            }
        } else {
            data
        };
        match signal::classify(&complete) {
            Incoming::Signal { signal, .. } => match signal {
                Ok(signal) => self.media_signal(peer, signal),
                Err(e) => tracing::debug!(peer = %peer, "unreadable signal: {e}"),
            },
            Incoming::Application(_) => self.emit(ClientEvent::Message {
                from: peer.clone(),
                data: complete,
            }),
        }
    }

    fn send_request(&self, id: RequestId, body: String, leave: bool) {
        tracing::debug!(id, leave, "signalling request");
        let transport = Arc::clone(&self.transport);
        let reports = self.reports.clone();
        tokio::spawn(async move {
            let result = transport.post(body, leave).await;
            let _ = reports.send(Report::Response { id, result });
        });
    }

    /// Probes the network (STUN); `first` adds a quick probe whose result starts polling.
    fn probe_network(&mut self, first: bool) {
        if self.probing {
            return;
        }
        self.probing = true;
        let stun = self.config.stun_ice_servers.clone();
        let cert = Arc::clone(&self.cert);
        let opts = self.rtc.clone();
        let reports = self.reports.clone();
        tokio::spawn(async move {
            if first && !stun.is_empty() {
                let result =
                    rtc::gather_network_settings(&stun, &cert, &opts, FIRST_PROBE_CAP).await;
                let _ = reports.send(Report::Network {
                    result,
                    partial: true,
                });
            }
            let result = rtc::gather_network_settings(&stun, &cert, &opts, NETWORK_PROBE_CAP).await;
            let _ = reports.send(Report::Network {
                result,
                partial: false,
            });
        });
    }

    fn new_entry(&mut self, peer: &SessionId, client_id: ClientId, initiator: bool) -> LinkKey {
        self.next_generation += 1;
        let key = LinkKey {
            peer: peer.clone(),
            generation: self.next_generation,
        };
        self.keys.insert(key.clone(), peer.clone());
        let limits = ReassemblerLimits {
            max_message_size: self.config.max_message_size,
            max_buffered_bytes: self.config.max_message_size.saturating_mul(2),
            ..ReassemblerLimits::default()
        };
        let entry = PeerEntry {
            key: key.clone(),
            client_id: client_id.clone(),
            initiator,
            link: None,
            offer: None,
            gathered: None,
            early_candidates: Vec::new(),
            connected: false,
            reassembler: Reassembler::new(limits),
            writer: None,
            media: None,
        };
        if let Some(old) = self.peers.insert(peer.clone(), entry) {
            self.drop_entry(old);
        }
        self.emit(ClientEvent::PeerConnecting {
            session_id: peer.clone(),
            client_id,
        });
        key
    }

    fn create_initiator(&mut self, create: CreateInitiator) {
        let key = self.new_entry(&create.peer, create.client_id, true);
        let params = InitiatorParams {
            ice_servers: create.ice_servers,
            remote_ufrag: create.ufrag_for_remote,
            remote_pwd: create.pwd_for_remote,
            remote_dtls_b64: create.remote_dtls_fingerprint_b64,
            remote_reflexive_ips: create.remote_reflexive_ips,
        };
        let (cert, opts, events, reports) = self.link_context();
        tokio::spawn(async move {
            let result = PeerLink::initiator(key.clone(), &cert, &opts, params, events)
                .await
                .map(|(link, offer)| (Arc::new(link), Some(offer)));
            let _ = reports.send(Report::LinkCreated { key, result });
        });
    }

    fn create_answerer(&mut self, create: CreateAnswerer) {
        let key = self.new_entry(&create.peer, create.client_id, false);
        let params = AnswererParams {
            ice_servers: create.ice_servers,
            remote_ufrag: create.remote_ufrag,
            remote_pwd: create.remote_pwd,
            remote_dtls_b64: create.remote_dtls_fingerprint_b64,
            remote_candidates: create.remote_candidates,
            local_ufrag: create.local_ufrag,
            local_pwd: create.local_pwd,
        };
        let (cert, opts, events, reports) = self.link_context();
        tokio::spawn(async move {
            let result = PeerLink::answerer(key.clone(), &cert, &opts, params, events)
                .await
                .map(|link| (Arc::new(link), None));
            let _ = reports.send(Report::LinkCreated { key, result });
        });
    }

    #[allow(clippy::type_complexity)]
    fn link_context(
        &self,
    ) -> (
        Arc<LocalCertificate>,
        RtcOptions,
        LinkEvents,
        mpsc::UnboundedSender<Report>,
    ) {
        (
            Arc::clone(&self.cert),
            self.rtc.clone(),
            self.link_events.clone(),
            self.reports.clone(),
        )
    }

    fn add_candidates(&mut self, peer: &SessionId, candidates: Vec<String>) {
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        match entry.link.clone() {
            Some(link) => spawn_add_candidates(link, candidates),
            None => entry.early_candidates.extend(candidates),
        }
    }

    /// Forgets a peer (closing its link when `close`); reports `PeerClosed` if it was connected,
    /// else `PeerFailed` with `reason`.
    fn remove_peer(&mut self, peer: &SessionId, close: bool, reason: &str) {
        let Some(entry) = self.peers.remove(peer) else {
            return;
        };
        let was_connected = entry.connected;
        let client_id = entry.client_id.clone();
        if close {
            self.drop_entry(entry);
        } else {
            self.keys.remove(&entry.key);
        }
        if was_connected {
            tracing::info!(peer = %peer, client = %client_id, "peer closed");
            self.emit(ClientEvent::PeerClosed {
                session_id: peer.clone(),
                client_id,
            });
        } else {
            self.emit(ClientEvent::PeerFailed {
                session_id: peer.clone(),
                client_id,
                reason: reason.to_owned(),
            });
        }
    }

    fn drop_entry(&mut self, entry: PeerEntry) {
        self.keys.remove(&entry.key);
        if let Some(link) = entry.link {
            tokio::spawn(async move { link.close().await });
        }
    }

    fn finish(mut self) {
        self.watcher.abort();
        let peers: Vec<SessionId> = self.peers.keys().cloned().collect();
        for peer in peers {
            self.remove_peer(&peer, true, "we left the room");
        }
        tracing::info!("left the room");
        self.emit(ClientEvent::Left);
        for waiter in self.leave_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    fn emit(&self, event: ClientEvent) {
        let _ = self.events.send(event);
    }
}

/// Follows the room through our server's long-poll extension and reports every change, so the
/// session polls at once instead of at its next step. Ends at once against a server without the
/// extension (the real worker), leaving plain P2PCF polling.
async fn watch_room(
    transport: Arc<dyn Transport>,
    body: String,
    reports: mpsc::UnboundedSender<Report>,
) {
    let mut since: Option<u64> = None;
    while !reports.is_closed() {
        match transport.watch(body.clone(), since, WATCH_WAIT).await {
            Ok(None) => {
                tracing::debug!("no long-poll extension on this server; plain polling");
                return;
            }
            Ok(Some(version)) => {
                // The first answer counts as a change too: the session's own first poll may
                // have read the room before a change this answer already includes.
                if since != Some(version) && reports.send(Report::RoomChanged).is_err() {
                    return;
                }
                since = Some(version);
            }
            Err(e) => {
                tracing::debug!("watch request failed: {e}");
                tokio::time::sleep(WATCH_RETRY).await;
            }
        }
    }
}

fn spawn_add_candidates(link: Arc<PeerLink>, candidates: Vec<String>) {
    tokio::spawn(async move {
        if let Err(e) = link.add_remote_candidates(candidates).await {
            tracing::debug!(key = %link.key(), "adding candidates failed: {e}");
        }
    });
}
