//! Media on a [`PeerLink`]: tracks, and the offer/answer steps of a renegotiation.
//!
//! Policy (who offers, when, what to ask for) lives in [`p2pcf_proto::negotiation`]; this module
//! only performs the webrtc-rs calls it asks for.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rtc::peer_connection::configuration::media_engine::MIME_TYPE_H264;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{MediaEngine, RTCSessionDescription};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

use super::link::{published_sdp, PeerLink};
use super::local_track::{Binding, LocalTrack};
use super::{LinkEvent, RtcError};

/// The video codec both directions use: H.264 constrained baseline, packetization mode 1 — what
/// browsers' WebRTC stacks all offer, and what `p2pcf-media` encodes and decodes.
pub const H264_FMTP: &str =
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
/// The RTP payload type of [`H264_FMTP`] in our offers.
pub const H264_PAYLOAD_TYPE: u8 = 102;

/// The codec of every local H.264 track.
pub fn h264_capability() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: H264_FMTP.to_owned(),
        rtcp_feedback: vec![
            RTCPFeedback {
                typ: "goog-remb".to_owned(),
                parameter: String::new(),
            },
            RTCPFeedback {
                typ: "ccm".to_owned(),
                parameter: "fir".to_owned(),
            },
        ],
    }
}

/// The codecs registered on every peer connection (NACK and PLI feedback are added by the
/// default interceptors).
pub(crate) fn media_engine() -> Result<MediaEngine, RtcError> {
    let mut m = MediaEngine::default();
    m.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: h264_capability(),
            payload_type: H264_PAYLOAD_TYPE,
        },
        RtpCodecKind::Video,
    )?;
    Ok(m)
}

/// A track the peer sends us. Read RTP with [`RemoteTrack::read_rtp`] until it returns `None`:
/// the peer stopped sending it (a renegotiation left its m-line without a send direction) or
/// the connection closed. [`RemoteTrack::ended`] resolves then too.
#[derive(Clone)]
pub struct RemoteTrack {
    track: Arc<dyn TrackRemote>,
    id: String,
    stream_id: String,
    kind: RtpCodecKind,
    /// The SSRC seen on the last packet (0 before the first): what key-frame requests name.
    ssrc: Arc<AtomicU32>,
    ended: CancellationToken,
}

impl RemoteTrack {
    pub(crate) async fn new(track: Arc<dyn TrackRemote>) -> Self {
        RemoteTrack {
            id: track.track_id().await,
            stream_id: track.stream_id().await,
            kind: track.kind().await,
            track,
            ssrc: Arc::new(AtomicU32::new(0)),
            ended: CancellationToken::new(),
        }
    }

    /// The next RTP packet, or `None` once the track ended.
    pub async fn read_rtp(&self) -> Option<rtc::rtp::Packet> {
        loop {
            let event = tokio::select! {
                event = self.track.poll() => event,
                () = self.ended.cancelled() => return None,
            };
            match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    self.ssrc.store(packet.header.ssrc, Ordering::Relaxed);
                    return Some(packet);
                }
                Some(TrackRemoteEvent::OnEnded) | None => {
                    self.end();
                    return None;
                }
                Some(_) => {}
            }
        }
    }

    /// Resolves once the peer stopped sending this track or the connection closed.
    pub async fn ended(&self) {
        self.ended.cancelled().await
    }

    /// Whether [`RemoteTrack::ended`] has resolved.
    pub fn is_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    pub(crate) fn end(&self) {
        self.ended.cancel();
    }

    /// The track id the peer gave the track.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The stream id the peer gave the track.
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// `"video"` or `"audio"`.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            RtpCodecKind::Audio => "audio",
            _ => "video",
        }
    }

    /// Asks the sender for a key frame (RTCP PLI). A no-op before the first packet (the SSRC
    /// is not known yet) and once the connection is gone.
    pub async fn request_keyframe(&self) {
        let media_ssrc = self.ssrc.load(Ordering::Relaxed);
        if media_ssrc == 0 {
            return;
        }
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        if let Err(e) = self.track.write_rtcp(vec![Box::new(pli)]).await {
            tracing::debug!("keyframe request not sent: {e}");
        }
    }

    fn is(&self, other: &Arc<dyn TrackRemote>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.track), Arc::as_ptr(other))
    }
}

impl std::fmt::Debug for RemoteTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTrack")
            .field("id", &self.id)
            .field("stream_id", &self.stream_id)
            .field("ssrc", &self.ssrc.load(Ordering::Relaxed))
            .finish()
    }
}

impl PartialEq for RemoteTrack {
    fn eq(&self, other: &Self) -> bool {
        self.is(&other.track)
    }
}

impl Eq for RemoteTrack {}

/// A local track on one link, as [`PeerLink::add_track`] returns it.
pub struct TrackSender {
    track: LocalTrack,
    binding: Arc<Binding>,
    sender: Arc<dyn RtpSender>,
}

impl std::fmt::Debug for TrackSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackSender")
            .field("track", &self.track.id())
            .finish_non_exhaustive()
    }
}

impl Drop for TrackSender {
    fn drop(&mut self) {
        self.track.unbind(&self.binding);
    }
}

impl PeerLink {
    /// Adds a local track (sent once negotiated). Key-frame requests for it (RTCP PLI/FIR)
    /// arrive as [`LinkEvent::KeyframeRequested`].
    pub async fn add_track(&self, track: &LocalTrack) -> Result<TrackSender, RtcError> {
        let binding = track.bind()?;
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendrecv,
            streams: vec![track.stream_id().to_owned()],
            send_encodings: Vec::new(),
        };
        let transceiver = match self
            .pc()
            .add_transceiver_from_track(binding.track(), Some(init))
            .await
        {
            Ok(t) => t,
            Err(e) => {
                track.unbind(&binding);
                return Err(self.closed_or(e));
            }
        };
        let sender = match transceiver.sender().await {
            Ok(Some(sender)) => sender,
            Ok(None) => {
                track.unbind(&binding);
                return Err(RtcError::Sdp("new transceiver has no sender".into()));
            }
            Err(e) => {
                track.unbind(&binding);
                return Err(self.closed_or(e));
            }
        };
        binding.set_sender(Arc::clone(&sender));
        let events = self.events().clone();
        let key = self.key().clone();
        let finished = self.finished().clone();
        let requests = Arc::clone(&binding);
        tokio::spawn(async move {
            tokio::select! {
                () = requests.keyframe_requests(|| {
                    events.send((key.clone(), LinkEvent::KeyframeRequested)).is_ok()
                }) => {}
                () = finished.cancelled() => {}
            }
        });
        Ok(TrackSender {
            track: track.clone(),
            binding,
            sender,
        })
    }

    /// Stops sending a track added with [`PeerLink::add_track`] (renegotiate afterwards).
    pub async fn remove_track(&self, sender: &TrackSender) -> Result<(), RtcError> {
        sender.track.unbind(&sender.binding);
        self.pc()
            .remove_track(&sender.sender)
            .await
            .map_err(|e| self.closed_or(e))
    }

    /// Adds a transceiver the other side asked for (`"video"` or `"audio"`); without a track
    /// of ours it only receives.
    pub async fn add_transceiver(&self, kind: &str) -> Result<(), RtcError> {
        let kind = match kind {
            "audio" => RtpCodecKind::Audio,
            "video" => RtpCodecKind::Video,
            other => return Err(RtcError::Sdp(format!("unknown media kind {other:?}"))),
        };
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: Vec::new(),
            send_encodings: Vec::new(),
        };
        self.pc()
            .add_transceiver_from_kind(kind, Some(init))
            .await
            .map_err(|e| self.closed_or(e))?;
        Ok(())
    }

    /// Initiator: creates an offer, sets it locally; returns the SDP to send.
    pub async fn create_offer(&self) -> Result<String, RtcError> {
        let offer = self
            .pc()
            .create_offer(None)
            .await
            .map_err(|e| self.closed_or(e))?;
        self.pc()
            .set_local_description(offer)
            .await
            .map_err(|e| self.closed_or(e))?;
        self.local_sdp().await
    }

    /// Initiator: applies the answer to our offer.
    pub async fn accept_answer(&self, sdp: String) -> Result<(), RtcError> {
        let answer = RTCSessionDescription::answer(sdp)?;
        self.pc()
            .set_remote_description(answer)
            .await
            .map_err(|e| self.closed_or(e))?;
        self.end_stopped_tracks().await;
        Ok(())
    }

    /// Ends the remote tracks a negotiation left without a receiving direction.
    async fn end_stopped_tracks(&self) {
        let tracks: Vec<RemoteTrack> = self
            .remote_tracks()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if tracks.is_empty() {
            return;
        }
        // Only a track whose transceiver was negotiated without a receiving direction ends; a
        // track whose transceiver is not found is left alone.
        let mut stopped: Vec<Arc<dyn TrackRemote>> = Vec::new();
        for t in self.pc().get_transceivers().await {
            let Ok(direction) = t.current_direction().await else {
                continue;
            };
            if direction == RTCRtpTransceiverDirection::Unspecified || direction.has_recv() {
                continue;
            }
            if let Ok(Some(receiver)) = t.receiver().await {
                stopped.push(Arc::clone(receiver.track()));
            }
        }
        let mut list = self
            .remote_tracks()
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list.retain(|t| {
            if !t.is_ended() && !stopped.iter().any(|r| t.is(r)) {
                return true;
            }
            tracing::debug!(key = %self.key(), track = t.id(), "remote track ended");
            t.end();
            false
        });
    }

    /// Non-initiator: applies an offer and answers it. Returns the answer's SDP and the kinds of
    /// our tracks the offer had no m-line for (to ask the initiator for, as simple-peer does).
    pub async fn accept_offer(&self, sdp: String) -> Result<(String, Vec<String>), RtcError> {
        let offer = RTCSessionDescription::offer(sdp)?;
        self.pc()
            .set_remote_description(offer)
            .await
            .map_err(|e| self.closed_or(e))?;
        let answer = self
            .pc()
            .create_answer(None)
            .await
            .map_err(|e| self.closed_or(e))?;
        self.pc()
            .set_local_description(answer)
            .await
            .map_err(|e| self.closed_or(e))?;
        self.end_stopped_tracks().await;
        let mut missing = Vec::new();
        for t in self.pc().get_transceivers().await {
            let unassociated = matches!(t.mid().await, Ok(None));
            let sends = t.direction().await.is_ok_and(|d| d.has_send());
            let has_track = matches!(t.sender().await, Ok(Some(_)));
            if unassociated && sends && has_track {
                let kind = match t.sender().await {
                    Ok(Some(s)) => s.track().kind().await,
                    _ => RtpCodecKind::Video,
                };
                missing.push(match kind {
                    RtpCodecKind::Audio => "audio".to_owned(),
                    _ => "video".to_owned(),
                });
            }
        }
        Ok((self.local_sdp().await?, missing))
    }

    async fn local_sdp(&self) -> Result<String, RtcError> {
        let description = self
            .pc()
            .local_description()
            .await
            .ok_or_else(|| RtcError::Sdp("no local description".into()))?;
        Ok(published_sdp(self.options(), &description))
    }

    fn closed_or(&self, e: webrtc::error::Error) -> RtcError {
        if self.finished().is_cancelled() {
            RtcError::Closed
        } else {
            match e {
                webrtc::error::Error::ErrConnectionClosed => RtcError::Closed,
                other => RtcError::Webrtc(other),
            }
        }
    }
}
