//! `PeerLink`: one webrtc-rs peer connection and its single data channel, set up the P2PCF way.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use p2pcf_proto::IceServer;
use rand::distributions::{Alphanumeric, DistString};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use webrtc::data_channel::data_channel_init::RTCDataChannelInit;
use webrtc::data_channel::data_channel_state::RTCDataChannelState;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

use super::link_state::{LinkState, Signal};
use super::sdp::{
    check_ice_credentials, create_sdp, ice_credentials, remote_answer_sdp, to_rtc_ice_servers,
};
use super::{LinkEvent, LocalCertificate, RemoteTrack, RtcError, RtcOptions};

/// If the buffered-amount-low callback were ever missed, a waiting sender re-checks after this.
const BACKPRESSURE_RECHECK: Duration = Duration::from_millis(500);

/// Peer B's inputs: what it knows about peer A from the room's peer list.
#[derive(Debug, Clone, Default)]
pub struct InitiatorParams {
    /// STUN or TURN servers for this connection.
    pub ice_servers: Vec<IceServer>,
    /// The ICE username fragment B invents for A (A must use it).
    pub remote_ufrag: String,
    /// The ICE password B invents for A.
    pub remote_pwd: String,
    /// A's published DTLS fingerprint (base64 of 32 bytes).
    pub remote_dtls_b64: String,
    /// A's published reflexive IPs: each becomes a srflx candidate on port 30000.
    pub remote_reflexive_ips: Vec<String>,
}

/// Peer A's inputs: the package B left for it.
#[derive(Debug, Clone, Default)]
pub struct AnswererParams {
    /// STUN or TURN servers for this connection.
    pub ice_servers: Vec<IceServer>,
    /// B's ICE username fragment (from B's offer).
    pub remote_ufrag: String,
    /// B's ICE password.
    pub remote_pwd: String,
    /// B's DTLS fingerprint (base64 of 32 bytes).
    pub remote_dtls_b64: String,
    /// B's candidates, `candidate:…` strings.
    pub remote_candidates: Vec<String>,
    /// The ICE username fragment B chose for us.
    pub local_ufrag: String,
    /// The ICE password B chose for us.
    pub local_pwd: String,
}

/// What peer B puts into its package for A (besides its candidates, which arrive later as
/// [`LinkEvent::CandidatesGathered`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOffer {
    pub ufrag: String,
    pub pwd: String,
    pub dtls_b64: String,
}

/// One webrtc-rs peer connection and its ordered, reliable data channel.
///
/// Events go to the channel given at construction, tagged with the link's key. Dropping the link
/// stops its events and closes the connection in the background.
pub struct PeerLink {
    key: String,
    pc: Arc<RTCPeerConnection>,
    channel: Arc<OnceLock<Arc<RTCDataChannel>>>,
    buffered_low: Arc<Notify>,
    hooks_installed: tokio::sync::OnceCell<()>,
    /// Cancelled once the link is finished (closed locally, `Closed` or `Failed` seen).
    finished: CancellationToken,
    high_water_mark: usize,
    driver: JoinHandle<()>,
    events: mpsc::UnboundedSender<(String, LinkEvent)>,
    opts: RtcOptions,
    /// Remote tracks handed out and not yet ended.
    remote_tracks: Arc<std::sync::Mutex<Vec<RemoteTrack>>>,
}

impl std::fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink")
            .field("key", &self.key)
            .field("state", &self.pc.connection_state())
            .finish_non_exhaustive()
    }
}

impl PeerLink {
    /// Peer B: creates the connection and the data channel, sets its offer locally and A's
    /// synthetic answer remotely. Returns what B publishes for A.
    pub async fn initiator(
        key: String,
        cert: &LocalCertificate,
        opts: &RtcOptions,
        p: InitiatorParams,
        events: mpsc::UnboundedSender<(String, LinkEvent)>,
    ) -> Result<(PeerLink, LocalOffer), RtcError> {
        check_ice_credentials(&p.remote_ufrag, &p.remote_pwd)?;
        let answer = remote_answer_sdp(
            &p.remote_ufrag,
            &p.remote_pwd,
            &p.remote_dtls_b64,
            &p.remote_reflexive_ips,
        )?;
        let api = opts.build_api(None)?;
        let pc = api
            .new_peer_connection(config(&p.ice_servers, cert, opts))
            .await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let link = PeerLink::start(key, Arc::new(pc), &tx, rx, events, opts);

        // tiny-simple-peer: a random 20-character label, default (ordered, reliable) config.
        let label = Alphanumeric.sample_string(&mut rand::thread_rng(), 20);
        let init = RTCDataChannelInit {
            ordered: Some(true),
            ..Default::default()
        };
        let dc = link.pc.create_data_channel(&label, Some(init)).await?;
        wire_channel(&dc, &tx, link.reception());
        let _ = link.channel.set(dc);

        let offer = link.pc.create_offer(None).await?;
        let (ufrag, pwd) = ice_credentials(&published_sdp(opts, &offer))?;
        link.pc.set_local_description(offer).await?;
        tracing::trace!(key = %link.key, sdp = %answer, "remote answer");
        link.pc
            .set_remote_description(RTCSessionDescription::answer(answer)?)
            .await?;
        let offer = LocalOffer {
            ufrag,
            pwd,
            dtls_b64: cert.fingerprint_b64(),
        };
        Ok((link, offer))
    }

    /// Peer A: builds B's offer from its package, adds B's candidates and answers with the ICE
    /// credentials B chose. The data channel arrives from B.
    pub async fn answerer(
        key: String,
        cert: &LocalCertificate,
        opts: &RtcOptions,
        p: AnswererParams,
        events: mpsc::UnboundedSender<(String, LinkEvent)>,
    ) -> Result<PeerLink, RtcError> {
        check_ice_credentials(&p.remote_ufrag, &p.remote_pwd)?;
        check_ice_credentials(&p.local_ufrag, &p.local_pwd)?;
        let offer = create_sdp(true, &p.remote_ufrag, &p.remote_pwd, &p.remote_dtls_b64)?;
        let api = opts.build_api(Some((p.local_ufrag.clone(), p.local_pwd.clone())))?;
        let pc = api
            .new_peer_connection(config(&p.ice_servers, cert, opts))
            .await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let link = PeerLink::start(key, Arc::new(pc), &tx, rx, events, opts);

        let channel = Arc::clone(&link.channel);
        let reception = link.reception();
        link.pc.on_data_channel(Box::new(move |dc| {
            // webrtc-rs starts reading right after this returns, so the forwarding handlers must
            // be in place now. Later channels (not part of P2PCF) are ignored.
            if channel.set(Arc::clone(&dc)).is_ok() {
                wire_channel(&dc, &tx, reception.clone());
            }
            Box::pin(async {})
        }));

        tracing::trace!(key = %link.key, sdp = %offer, "remote offer");
        link.pc
            .set_remote_description(RTCSessionDescription::offer(offer)?)
            .await?;
        link.add_remote_candidates(p.remote_candidates).await?;
        let answer = link.pc.create_answer(None).await?;
        if ice_credentials(&published_sdp(opts, &answer))? != (p.local_ufrag, p.local_pwd) {
            tracing::warn!(key = %link.key, "answer does not carry the forced ICE credentials");
        }
        link.pc.set_local_description(answer).await?;
        Ok(link)
    }

    /// The key events of this link are tagged with.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Adds the other side's candidates (`candidate:…` strings). Candidates webrtc-rs cannot use
    /// (mDNS `.local` names, TCP) are skipped; returns how many were accepted.
    pub async fn add_remote_candidates(&self, candidates: Vec<String>) -> Result<usize, RtcError> {
        let mut accepted = 0;
        for candidate in candidates {
            if candidate.is_empty() {
                continue;
            }
            let init = RTCIceCandidateInit {
                candidate,
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
                username_fragment: None,
            };
            let shown = init.candidate.clone();
            match self.pc.add_ice_candidate(init).await {
                Ok(()) => accepted += 1,
                Err(webrtc::Error::ErrConnectionClosed) => return Err(RtcError::Closed),
                Err(e) => {
                    tracing::debug!(key = %self.key, candidate = %shown, "candidate skipped: {e}")
                }
            }
        }
        Ok(accepted)
    }

    /// Sends one data-channel message (callers chunk to ≤ 16000 bytes). Waits, without polling,
    /// while more than the high-water mark is buffered.
    pub async fn send(&self, frame: Bytes) -> Result<(), RtcError> {
        let dc = self.open_channel()?;
        self.hooks_installed
            .get_or_init(|| self.install_backpressure(&dc))
            .await;
        let low_mark = self.high_water_mark / 2;
        loop {
            let notified = self.buffered_low.notified();
            tokio::pin!(notified);
            // Register before checking, so a wake-up between the check and the wait is not lost.
            notified.as_mut().enable();
            if self.finished.is_cancelled() || dc.ready_state() != RTCDataChannelState::Open {
                return Err(RtcError::Closed);
            }
            let buffered = dc.buffered_amount().await;
            if buffered <= low_mark || buffered + frame.len() <= self.high_water_mark {
                break;
            }
            tokio::select! {
                _ = notified => {}
                _ = self.finished.cancelled() => return Err(RtcError::Closed),
                _ = tokio::time::sleep(BACKPRESSURE_RECHECK) => {
                    tracing::debug!(key = %self.key, buffered, "buffered-amount-low not seen; re-checking");
                }
            }
        }
        // webrtc-sctp's own 128 KiB pending queue blocks the write until its write loop drains
        // it, and never wakes the writer once the association is gone: race it with `finished`.
        tokio::select! {
            result = dc.send(&frame) => match result {
                Ok(_) => Ok(()),
                Err(webrtc::Error::ErrClosedPipe) => Err(RtcError::Closed),
                Err(e) => Err(RtcError::Webrtc(e)),
            },
            _ = self.finished.cancelled() => Err(RtcError::Closed),
        }
    }

    /// Bytes handed to the data channel and not yet acknowledged by the other side.
    pub async fn buffered_amount(&self) -> usize {
        match self.channel.get() {
            Some(dc) => dc.buffered_amount().await,
            None => 0,
        }
    }

    /// Closes the connection. The other side sees `Closed`; this side may too.
    pub async fn close(&self) {
        self.finished.cancel();
        self.end_all_tracks();
        if let Err(e) = self.pc.close().await {
            tracing::debug!(key = %self.key, "close: {e}");
        }
    }

    fn start(
        key: String,
        pc: Arc<RTCPeerConnection>,
        tx: &mpsc::UnboundedSender<Signal>,
        rx: mpsc::UnboundedReceiver<Signal>,
        events: mpsc::UnboundedSender<(String, LinkEvent)>,
        opts: &RtcOptions,
    ) -> PeerLink {
        let remote_tracks = Arc::new(std::sync::Mutex::new(Vec::new()));
        wire_connection(&pc, tx, &remote_tracks);
        let finished = CancellationToken::new();
        let buffered_low = Arc::new(Notify::new());
        let driver = tokio::spawn(drive(key.clone(), rx, events.clone(), finished.clone()));
        PeerLink {
            key,
            pc,
            channel: Arc::new(OnceLock::new()),
            buffered_low,
            hooks_installed: tokio::sync::OnceCell::new(),
            finished,
            high_water_mark: opts.send_high_water_mark.max(1),
            driver,
            events,
            opts: opts.clone(),
            remote_tracks,
        }
    }

    fn reception(&self) -> Reception {
        Reception {
            budget: self.opts.receive_budget.clone(),
            finished: self.finished.clone(),
        }
    }

    fn end_all_tracks(&self) {
        for track in self
            .remote_tracks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            track.end();
        }
    }

    pub(super) fn remote_tracks(&self) -> &std::sync::Mutex<Vec<RemoteTrack>> {
        &self.remote_tracks
    }

    pub(super) fn pc(&self) -> &Arc<RTCPeerConnection> {
        &self.pc
    }

    pub(super) fn events(&self) -> &mpsc::UnboundedSender<(String, LinkEvent)> {
        &self.events
    }

    pub(super) fn options(&self) -> &RtcOptions {
        &self.opts
    }

    fn open_channel(&self) -> Result<Arc<RTCDataChannel>, RtcError> {
        match self.channel.get() {
            Some(dc) if dc.ready_state() == RTCDataChannelState::Open => Ok(Arc::clone(dc)),
            Some(_) if self.finished.is_cancelled() => Err(RtcError::Closed),
            Some(dc) if dc.ready_state() == RTCDataChannelState::Closed => Err(RtcError::Closed),
            _ => Err(RtcError::NotOpen),
        }
    }

    /// Only valid once the channel is open: webrtc-rs hands a callback registered earlier to the
    /// SCTP stream only for channels created locally, not for ones received from the remote.
    async fn install_backpressure(&self, dc: &RTCDataChannel) {
        dc.set_buffered_amount_low_threshold(self.high_water_mark / 2)
            .await;
        let low = Arc::clone(&self.buffered_low);
        dc.on_buffered_amount_low(Box::new(move || {
            low.notify_waiters();
            Box::pin(async {})
        }))
        .await;
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.driver.abort();
        self.finished.cancel();
        self.end_all_tracks();
        if self.pc.connection_state()
            != webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState::Closed
        {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let pc = Arc::clone(&self.pc);
                handle.spawn(async move {
                    let _ = pc.close().await;
                });
            }
        }
    }
}

fn config(
    ice_servers: &[IceServer],
    cert: &LocalCertificate,
    opts: &RtcOptions,
) -> RTCConfiguration {
    RTCConfiguration {
        ice_servers: to_rtc_ice_servers(ice_servers),
        certificates: vec![cert.rtc().clone()],
        ice_transport_policy: if opts.relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        },
        ..Default::default()
    }
}

/// P2PCF's `sdpTransform`: the user's hook sees each local description and may rewrite what
/// this side publishes from it (the ICE credentials read for the package). webrtc-rs refuses to
/// set a local description that differs from the one it created, so the connection itself is
/// set up with the original.
pub(super) fn published_sdp(opts: &RtcOptions, description: &RTCSessionDescription) -> String {
    match &opts.sdp_transform {
        Some(transform) => transform(&description.sdp),
        None => description.sdp.clone(),
    }
}

/// Connection-level callbacks: forward only.
fn wire_connection(
    pc: &Arc<RTCPeerConnection>,
    tx: &mpsc::UnboundedSender<Signal>,
    remote_tracks: &Arc<std::sync::Mutex<Vec<RemoteTrack>>>,
) {
    let t = tx.clone();
    let weak = Arc::downgrade(pc);
    let tracks = Arc::clone(remote_tracks);
    pc.on_track(Box::new(move |track, _, transceiver| {
        let track = RemoteTrack::new(track, transceiver, weak.clone());
        tracks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(track.clone());
        let _ = t.send(Signal::Track(track));
        Box::pin(async {})
    }));
    let t = tx.clone();
    pc.on_ice_candidate(Box::new(move |c| {
        let _ = t.send(Signal::Candidate(c));
        Box::pin(async {})
    }));
    let t = tx.clone();
    pc.on_peer_connection_state_change(Box::new(move |s| {
        let _ = t.send(Signal::ConnectionState(s));
        Box::pin(async {})
    }));
}

/// What a data channel's message handler needs for flow control.
#[derive(Clone)]
struct Reception {
    budget: Option<Arc<super::ReceiveBudget>>,
    finished: CancellationToken,
}

/// Data-channel callbacks: forward only; the message handler waits while the receive budget is
/// spent (webrtc-rs reads the next message only once the handler returned).
fn wire_channel(dc: &RTCDataChannel, tx: &mpsc::UnboundedSender<Signal>, reception: Reception) {
    let t = tx.clone();
    dc.on_open(Box::new(move || {
        let _ = t.send(Signal::ChannelOpen);
        Box::pin(async {})
    }));
    let t = tx.clone();
    dc.on_message(Box::new(move |m| {
        let t = t.clone();
        let reception = reception.clone();
        Box::pin(async move {
            let data = match &reception.budget {
                None => m.data,
                Some(budget) => {
                    tokio::select! {
                        () = budget.wait_for_room() => {}
                        () = reception.finished.cancelled() => return,
                    }
                    budget.charge(m.data)
                }
            };
            let _ = t.send(Signal::ChannelMessage(data));
        })
    }));
    let t = tx.clone();
    dc.on_close(Box::new(move || {
        let _ = t.send(Signal::ChannelClosed);
        Box::pin(async {})
    }));
}

/// The one task that owns a link's state.
async fn drive(
    key: String,
    mut rx: mpsc::UnboundedReceiver<Signal>,
    events: mpsc::UnboundedSender<(String, LinkEvent)>,
    finished: CancellationToken,
) {
    let mut state = LinkState::default();
    while let Some(signal) = rx.recv().await {
        for event in state.on_signal(signal) {
            if matches!(event, LinkEvent::Closed | LinkEvent::Failed(_)) {
                finished.cancel();
            }
            if !matches!(event, LinkEvent::Message(_)) {
                tracing::debug!(%key, event = event.name(), "link event");
            }
            // Keep tracking state even when nobody listens: `send` relies on `finished`.
            let _ = events.send((key.clone(), event));
        }
    }
}
