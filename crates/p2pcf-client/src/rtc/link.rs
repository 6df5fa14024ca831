//! `PeerLink`: one webrtc-rs peer connection and its single data channel, set up the P2PCF way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::{Bytes, BytesMut};
use p2pcf_proto::sdp::{create_sdp, offer_credentials, synthetic_answer, validate_fingerprint_b64};
use p2pcf_proto::IceServer;
use rand::distributions::{Alphanumeric, DistString};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::error::Error as WebrtcError;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceCandidateInit, RTCIceGatheringState,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription,
};

use super::link_state::{LinkState, Signal};
use super::media::RemoteTrack;
use super::socket::SocketReport;
use super::{LinkEvent, LinkKey, LocalCertificate, RtcError, RtcOptions};

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

/// Where a link's events go, tagged with its key.
pub type LinkEvents = mpsc::UnboundedSender<(LinkKey, LinkEvent)>;

/// One webrtc-rs peer connection and its ordered, reliable data channel.
///
/// Events go to the channel given at construction, tagged with the link's key. Dropping the link
/// stops its events and closes the connection in the background.
pub struct PeerLink {
    key: LinkKey,
    pc: Arc<dyn PeerConnection>,
    channel: Arc<OnceLock<Arc<dyn DataChannel>>>,
    /// Set once the channel reported open (or delivered a message).
    open: Arc<AtomicBool>,
    /// Cancelled once the link is finished (closed locally, `Closed` or `Failed` seen).
    finished: CancellationToken,
    driver: JoinHandle<()>,
    events: LinkEvents,
    opts: RtcOptions,
    /// Remote tracks handed out and not yet ended.
    remote_tracks: Arc<Mutex<Vec<RemoteTrack>>>,
    sockets: Arc<SocketReport>,
}

impl std::fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The state callbacks share with the link: they only forward.
struct Shared {
    signals: mpsc::UnboundedSender<Signal>,
    channel: Arc<OnceLock<Arc<dyn DataChannel>>>,
    remote_tracks: Arc<Mutex<Vec<RemoteTrack>>>,
    reception: Reception,
}

impl Shared {
    fn read(&self, dc: Arc<dyn DataChannel>) {
        tokio::spawn(read_channel(
            dc,
            self.signals.clone(),
            self.reception.clone(),
        ));
    }
}

struct Handler(Arc<Shared>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let _ = self.0.signals.send(Signal::Candidate(Some(init.candidate)));
            }
            Err(e) => tracing::debug!("skipping unrepresentable local candidate: {e}"),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.signals.send(Signal::Candidate(None));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.0.signals.send(Signal::ConnectionState(state));
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        // The channel the peer opened (P2PCF uses exactly one; later ones are ignored).
        if self.0.channel.set(Arc::clone(&dc)).is_ok() {
            self.0.read(dc);
        }
    }

    async fn on_track(&self, track: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>) {
        let track = RemoteTrack::new(track).await;
        self.0
            .remote_tracks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(track.clone());
        let _ = self.0.signals.send(Signal::Track(track));
    }
}

impl PeerLink {
    /// Peer B: creates the connection and the data channel, sets its offer locally and A's
    /// synthetic answer remotely. Returns what B publishes for A.
    pub async fn initiator(
        key: LinkKey,
        cert: &LocalCertificate,
        opts: &RtcOptions,
        p: InitiatorParams,
        events: LinkEvents,
    ) -> Result<(PeerLink, LocalOffer), RtcError> {
        check_ice_credentials(&p.remote_ufrag, &p.remote_pwd)?;
        check_fingerprint(&p.remote_dtls_b64)?;
        let answer = synthetic_answer(
            &p.remote_ufrag,
            &p.remote_pwd,
            &p.remote_dtls_b64,
            &p.remote_reflexive_ips,
        )?;
        let (link, shared) = PeerLink::start(key, cert, opts, &p.ice_servers, None, events).await?;

        // tiny-simple-peer: a random 20-character label, default (ordered, reliable) config.
        let label = Alphanumeric.sample_string(&mut rand::thread_rng(), 20);
        let init = RTCDataChannelInit {
            ordered: true,
            ..Default::default()
        };
        let dc = link.pc.create_data_channel(&label, Some(init)).await?;
        let _ = link.channel.set(Arc::clone(&dc));
        shared.read(dc);

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
        key: LinkKey,
        cert: &LocalCertificate,
        opts: &RtcOptions,
        p: AnswererParams,
        events: LinkEvents,
    ) -> Result<PeerLink, RtcError> {
        check_ice_credentials(&p.remote_ufrag, &p.remote_pwd)?;
        check_ice_credentials(&p.local_ufrag, &p.local_pwd)?;
        check_fingerprint(&p.remote_dtls_b64)?;
        let offer = create_sdp(true, &p.remote_ufrag, &p.remote_pwd, &p.remote_dtls_b64)?;
        let credentials = Some((p.local_ufrag.clone(), p.local_pwd.clone()));
        let (link, _) =
            PeerLink::start(key, cert, opts, &p.ice_servers, credentials, events).await?;

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
    pub fn key(&self) -> &LinkKey {
        &self.key
    }

    /// The receive buffers the kernel granted this link's ICE sockets.
    pub fn socket_report(&self) -> Arc<SocketReport> {
        Arc::clone(&self.sockets)
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
                ..Default::default()
            };
            let shown = init.candidate.clone();
            match self.pc.add_ice_candidate(init).await {
                Ok(()) => accepted += 1,
                Err(e) if self.finished.is_cancelled() => {
                    tracing::debug!(key = %self.key, "candidate after close: {e}");
                    return Err(RtcError::Closed);
                }
                Err(e) => {
                    tracing::debug!(key = %self.key, candidate = %shown, "candidate skipped: {e}")
                }
            }
        }
        Ok(accepted)
    }

    /// Sends one data-channel message (callers chunk to ≤ 16000 bytes). Waits until less than
    /// the high-water mark is outstanding (webrtc-rs's send-buffer limit, set from
    /// [`RtcOptions::send_high_water_mark`]), then admits the message whole: at most the mark
    /// plus one message is ever held.
    pub async fn send(&self, frame: Bytes) -> Result<(), RtcError> {
        let dc = self.open_channel()?;
        let data = BytesMut::from(&frame[..]);
        tokio::select! {
            result = dc.send(data) => match result {
                Ok(()) => Ok(()),
                Err(WebrtcError::ErrDataChannelClosed) | Err(WebrtcError::ErrClosedPipe) => {
                    Err(RtcError::Closed)
                }
                Err(e) if self.finished.is_cancelled() => {
                    tracing::debug!(key = %self.key, "send after close: {e}");
                    Err(RtcError::Closed)
                }
                Err(e) => Err(RtcError::Webrtc(e)),
            },
            _ = self.finished.cancelled() => Err(RtcError::Closed),
        }
    }

    /// Bytes handed to the data channel and not yet acknowledged by the other side.
    pub async fn buffered_amount(&self) -> usize {
        match self.channel.get() {
            Some(dc) => dc.outstanding_bytes().await.unwrap_or(0),
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

    async fn start(
        key: LinkKey,
        cert: &LocalCertificate,
        opts: &RtcOptions,
        ice_servers: &[IceServer],
        ice_credentials: Option<(String, String)>,
        events: LinkEvents,
    ) -> Result<(PeerLink, Arc<Shared>), RtcError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let finished = CancellationToken::new();
        let shared = Arc::new(Shared {
            signals: tx,
            channel: Arc::new(OnceLock::new()),
            remote_tracks: Arc::new(Mutex::new(Vec::new())),
            reception: Reception {
                budget: opts.receive_budget.clone(),
                finished: finished.clone(),
                open: Arc::new(AtomicBool::new(false)),
            },
        });
        let built = opts
            .build(
                ice_servers,
                cert,
                ice_credentials,
                Arc::new(Handler(Arc::clone(&shared))),
            )
            .await?;
        if let Some(granted) = built.sockets.min_granted() {
            tracing::debug!(
                %key,
                requested = built.sockets.requested(),
                granted,
                "UDP receive buffer"
            );
        }
        let driver = tokio::spawn(drive(key.clone(), rx, events.clone(), finished.clone()));
        let link = PeerLink {
            key,
            pc: built.pc,
            channel: Arc::clone(&shared.channel),
            open: Arc::clone(&shared.reception.open),
            finished,
            driver,
            events,
            opts: opts.clone(),
            remote_tracks: Arc::clone(&shared.remote_tracks),
            sockets: built.sockets,
        };
        Ok((link, shared))
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

    pub(super) fn remote_tracks(&self) -> &Mutex<Vec<RemoteTrack>> {
        &self.remote_tracks
    }

    pub(super) fn pc(&self) -> &Arc<dyn PeerConnection> {
        &self.pc
    }

    pub(super) fn events(&self) -> &LinkEvents {
        &self.events
    }

    pub(super) fn options(&self) -> &RtcOptions {
        &self.opts
    }

    pub(super) fn finished(&self) -> &CancellationToken {
        &self.finished
    }

    fn open_channel(&self) -> Result<Arc<dyn DataChannel>, RtcError> {
        if self.finished.is_cancelled() {
            return Err(RtcError::Closed);
        }
        match self.channel.get() {
            Some(dc) if self.open.load(Ordering::Acquire) => Ok(Arc::clone(dc)),
            _ => Err(RtcError::NotOpen),
        }
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.driver.abort();
        self.finished.cancel();
        self.end_all_tracks();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let pc = Arc::clone(&self.pc);
            handle.spawn(async move {
                let _ = pc.close().await;
            });
        }
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

/// ICE credentials of a local SDP, as P2PCF reads them off its offer.
fn ice_credentials(sdp: &str) -> Result<(String, String), RtcError> {
    let found = offer_credentials(sdp);
    Ok((
        found
            .ufrag
            .ok_or(RtcError::MalformedLocalSdp("a=ice-ufrag:"))?,
        found.pwd.ok_or(RtcError::MalformedLocalSdp("a=ice-pwd:"))?,
    ))
}

fn check_ice_credentials(ufrag: &str, pwd: &str) -> Result<(), RtcError> {
    if p2pcf_proto::sdp::is_ice_credential(ufrag) && p2pcf_proto::sdp::is_ice_credential(pwd) {
        Ok(())
    } else {
        Err(RtcError::BadIceCredentials)
    }
}

fn check_fingerprint(b64: &str) -> Result<(), RtcError> {
    validate_fingerprint_b64(b64).map_err(|_| RtcError::BadFingerprint)
}

/// What a data channel's reader needs for flow control.
#[derive(Clone)]
struct Reception {
    budget: Option<Arc<super::ReceiveBudget>>,
    finished: CancellationToken,
    open: Arc<AtomicBool>,
}

/// The one reader of a data channel. While the receive budget is spent it stops polling:
/// webrtc-rs then holds the next message, stops reading SCTP, the receive window closes and the
/// sender's `send` waits — a slow reader slows the sender instead of growing memory.
async fn read_channel(
    dc: Arc<dyn DataChannel>,
    signals: mpsc::UnboundedSender<Signal>,
    reception: Reception,
) {
    loop {
        let event = tokio::select! {
            event = dc.poll() => event,
            () = reception.finished.cancelled() => return,
        };
        let signal = match event {
            None | Some(DataChannelEvent::OnClose) => {
                let _ = signals.send(Signal::ChannelClosed);
                return;
            }
            Some(DataChannelEvent::OnOpen) => {
                reception.open.store(true, Ordering::Release);
                Signal::ChannelOpen
            }
            Some(DataChannelEvent::OnMessage(message)) => {
                reception.open.store(true, Ordering::Release);
                let data = message.data.freeze();
                let data = match &reception.budget {
                    None => data,
                    Some(budget) => {
                        tokio::select! {
                            () = budget.wait_for_room() => {}
                            () = reception.finished.cancelled() => return,
                        }
                        budget.charge(data)
                    }
                };
                Signal::ChannelMessage(data)
            }
            Some(other) => {
                tracing::trace!(?other, "data channel event");
                continue;
            }
        };
        if signals.send(signal).is_err() {
            return;
        }
    }
}

/// The one task that owns a link's state.
async fn drive(
    key: LinkKey,
    mut rx: mpsc::UnboundedReceiver<Signal>,
    events: LinkEvents,
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
