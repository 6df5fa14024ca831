//! The public handle: join a room, then send, broadcast, leave; events arrive on a channel.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use p2pcf_proto::config::ClientConfig;
use p2pcf_proto::{ClientId, ContextId, RoomId, SessionId};
use tokio::sync::{mpsc, oneshot, watch};

use crate::driver;
use crate::rtc::{RemoteTrack, RtcError, RtcOptions};
use crate::transport::{HttpTransport, Transport};

/// How long one signalling request may take before it counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the client API.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The room id, client id or configuration is invalid.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// WebRTC setup failed (certificate, network probe).
    #[error("webrtc: {0}")]
    Rtc(String),
    /// No connected peer with this session id.
    #[error("no connected peer {0}")]
    UnknownPeer(String),
    /// The peer's data channel closed before the message was handed over.
    #[error("connection to the peer closed")]
    PeerClosed,
    /// The client has left the room (or its task ended).
    #[error("the client has left the room")]
    Left,
    /// The message is larger than the P2PCF chunk format can carry (its chunk index is 16 bits).
    #[error("a message of {size} bytes is over the P2PCF limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
}

fn check_size(size: usize) -> Result<(), ClientError> {
    let max = p2pcf_proto::chunk::MAX_WIRE_MESSAGE_LEN;
    if size > max {
        return Err(ClientError::TooLarge { size, max });
    }
    Ok(())
}

impl From<RtcError> for ClientError {
    fn from(e: RtcError) -> Self {
        ClientError::Rtc(e.to_string())
    }
}

/// Something that happened in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Our entry is published in the room (we are discoverable).
    Joined { session_id: SessionId },
    /// A connection to a peer is being set up (its entry was found in the room).
    PeerConnecting {
        session_id: SessionId,
        client_id: ClientId,
    },
    /// Setting up a connection to a peer failed before its data channel opened (ICE or DTLS
    /// failure, the connect timeout, or the peer vanished from the room). P2PCF may try again
    /// while the peer stays in the room.
    PeerFailed {
        session_id: SessionId,
        client_id: ClientId,
        reason: String,
    },
    /// A data channel to a peer opened.
    PeerConnected {
        session_id: SessionId,
        client_id: ClientId,
    },
    /// A connected peer went away (left, closed, or failed).
    PeerClosed {
        session_id: SessionId,
        client_id: ClientId,
    },
    /// The peer started sending a media track (after a renegotiation). Read its RTP from
    /// [`RemoteTrack::track`]; reading fails once the peer stops the track or goes away.
    TrackStarted { from: SessionId, track: RemoteTrack },
    /// A peer asked for a key frame of the tracks we share (RTCP PLI/FIR): encoders should
    /// send one soon.
    KeyframeRequested { from: SessionId },
    /// A complete application message from a peer.
    Message { from: SessionId, data: Bytes },
    /// A signalling request failed; polling goes on at the slow rate.
    SignallingError {
        status: Option<u16>,
        text: String,
        consecutive_failures: u32,
    },
    /// Signalling works again after failures.
    SignallingRecovered,
    /// A peer sent something we dropped (malformed or over the size limit).
    MessageDropped { from: SessionId, reason: String },
    /// The client left the room; no more events follow.
    Left,
}

/// Everything `join` needs besides the room and the client id.
#[derive(Debug, Clone, Default)]
pub struct JoinOptions {
    pub config: ClientConfig,
    pub rtc: RtcOptions,
}

pub(crate) enum Command {
    Send {
        to: SessionId,
        data: Bytes,
        progress: Option<watch::Sender<u64>>,
        done: oneshot::Sender<Result<(), ClientError>>,
    },
    Broadcast {
        data: Bytes,
        done: oneshot::Sender<Vec<(SessionId, Result<(), ClientError>)>>,
    },
    Peers {
        reply: oneshot::Sender<Vec<(SessionId, ClientId)>>,
    },
    SocketReport {
        peer: SessionId,
        reply: oneshot::Sender<Option<Arc<crate::rtc::SocketReport>>>,
    },
    AddTrack {
        track: LocalTrack,
        done: oneshot::Sender<Result<(), ClientError>>,
    },
    RemoveTrack {
        track_id: String,
        done: oneshot::Sender<Result<(), ClientError>>,
    },
    Leave {
        done: oneshot::Sender<()>,
    },
}

pub use crate::rtc::LocalTrack;

/// A joined client. Cheap to clone; dropping every clone leaves the room.
#[derive(Clone)]
pub struct ClientHandle {
    commands: mpsc::Sender<Command>,
    session_id: SessionId,
    context_id: ContextId,
}

impl std::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandle")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// Joins `room` as `client_id` through the worker in `options.config.worker_url`.
/// Returns the handle and the event stream.
pub async fn join(
    room: &str,
    client_id: &str,
    options: JoinOptions,
) -> Result<(ClientHandle, mpsc::UnboundedReceiver<ClientEvent>), ClientError> {
    let config = options
        .config
        .clone()
        .validate()
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    let transport = HttpTransport::new(&config.worker_url, REQUEST_TIMEOUT)
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    join_with_transport(
        room,
        client_id,
        JoinOptions { config, ..options },
        Arc::new(transport),
    )
    .await
}

/// [`join`] with a caller-provided signalling transport (tests, in-process servers).
pub async fn join_with_transport(
    room: &str,
    client_id: &str,
    options: JoinOptions,
    transport: Arc<dyn Transport>,
) -> Result<(ClientHandle, mpsc::UnboundedReceiver<ClientEvent>), ClientError> {
    let room = RoomId::new(room).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let client_id = ClientId::new(client_id).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let config = options
        .config
        .validate()
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    let (commands, command_rx) = mpsc::channel(64);
    let (event_tx, events) = mpsc::unbounded_channel();
    let started = driver::start(
        driver::Setup {
            room,
            client_id,
            config,
            rtc: options.rtc,
            transport,
        },
        command_rx,
        event_tx,
    )
    .await?;
    Ok((
        ClientHandle {
            commands,
            session_id: started.session_id,
            context_id: started.context_id,
        },
        events,
    ))
}

impl ClientHandle {
    /// Our session id in this room (what peers see as our id).
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    /// Our context id (one entry per context in the worker).
    pub fn context_id(&self) -> &ContextId {
        &self.context_id
    }

    /// Sends one message to a connected peer. Resolves once every chunk was handed to the data
    /// channel, which applies backpressure: a slow peer slows the sender instead of growing
    /// buffers.
    pub async fn send(&self, to: &SessionId, data: impl Into<Bytes>) -> Result<(), ClientError> {
        self.send_inner(to, data.into(), None).await
    }

    /// [`send`](Self::send), reporting the bytes handed over so far on `progress`.
    pub async fn send_with_progress(
        &self,
        to: &SessionId,
        data: impl Into<Bytes>,
        progress: watch::Sender<u64>,
    ) -> Result<(), ClientError> {
        self.send_inner(to, data.into(), Some(progress)).await
    }

    /// [`send`](Self::send), calling `report` with the bytes handed over so far at most once
    /// per `every`, and once more with the total when everything was handed over.
    pub async fn send_reporting(
        &self,
        to: &SessionId,
        data: impl Into<Bytes>,
        every: Duration,
        mut report: impl FnMut(u64),
    ) -> Result<(), ClientError> {
        let data = data.into();
        let total = data.len() as u64;
        let (progress, mut updates) = watch::channel(0u64);
        let sending = self.send_with_progress(to, data, progress);
        tokio::pin!(sending);
        let mut last_report: Option<tokio::time::Instant> = None;
        let result = loop {
            tokio::select! {
                result = &mut sending => break result,
                changed = updates.changed() => {
                    if changed.is_err() {
                        break (&mut sending).await;
                    }
                    if last_report.is_none_or(|at| at.elapsed() >= every) {
                        last_report = Some(tokio::time::Instant::now());
                        report(*updates.borrow_and_update());
                    }
                }
            }
        };
        if result.is_ok() {
            report(total);
        }
        result
    }

    async fn send_inner(
        &self,
        to: &SessionId,
        data: Bytes,
        progress: Option<watch::Sender<u64>>,
    ) -> Result<(), ClientError> {
        check_size(data.len())?;
        let (done, result) = oneshot::channel();
        self.command(Command::Send {
            to: to.clone(),
            data,
            progress,
            done,
        })
        .await?;
        result.await.map_err(|_| ClientError::Left)?
    }

    /// Sends one message to every connected peer; returns each peer's outcome.
    pub async fn broadcast(
        &self,
        data: impl Into<Bytes>,
    ) -> Result<Vec<(SessionId, Result<(), ClientError>)>, ClientError> {
        let data = data.into();
        check_size(data.len())?;
        let (done, result) = oneshot::channel();
        self.command(Command::Broadcast { data, done }).await?;
        result.await.map_err(|_| ClientError::Left)
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<(SessionId, ClientId)>, ClientError> {
        let (reply, result) = oneshot::channel();
        self.command(Command::Peers { reply }).await?;
        result.await.map_err(|_| ClientError::Left)
    }

    /// The UDP receive buffers the kernel granted the ICE sockets of the connection to `peer`
    /// (what [`RtcOptions::udp_receive_buffer`] asked for is
    /// [`crate::rtc::SocketReport::requested`]); `None` if there is no such connection.
    pub async fn socket_report(
        &self,
        peer: &SessionId,
    ) -> Result<Option<Arc<crate::rtc::SocketReport>>, ClientError> {
        let (reply, result) = oneshot::channel();
        self.command(Command::SocketReport {
            peer: peer.clone(),
            reply,
        })
        .await?;
        result.await.map_err(|_| ClientError::Left)
    }

    /// Shares a media track with every connected peer and with each peer that connects later
    /// (as P2PCF's example does in its `peerconnect` handler): the track is added to the peer
    /// connection and renegotiated over the data channel the way tiny-simple-peer does it, so
    /// JavaScript peers get a `track` event. Write samples to the track to send.
    pub async fn add_track(&self, track: LocalTrack) -> Result<(), ClientError> {
        let (done, result) = oneshot::channel();
        self.command(Command::AddTrack { track, done }).await?;
        result.await.map_err(|_| ClientError::Left)?
    }

    /// Stops sharing the track with this id (renegotiating with every peer).
    pub async fn remove_track(&self, track_id: &str) -> Result<(), ClientError> {
        let (done, result) = oneshot::channel();
        let track_id = track_id.to_owned();
        self.command(Command::RemoveTrack { track_id, done })
            .await?;
        result.await.map_err(|_| ClientError::Left)?
    }

    /// Leaves the room: closes every peer and sends the P2PCF leave request with the delete key.
    /// Resolves when that is done (or the client had already left).
    pub async fn leave(&self) {
        let (done, finished) = oneshot::channel();
        if self.command(Command::Leave { done }).await.is_ok() {
            let _ = finished.await;
        }
    }

    async fn command(&self, command: Command) -> Result<(), ClientError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Left)
    }
}
