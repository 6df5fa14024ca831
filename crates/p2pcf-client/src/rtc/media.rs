//! Media on a [`PeerLink`]: tracks, and the offer/answer steps of a renegotiation.
//!
//! Policy (who offers, when, what to ask for) lives in [`p2pcf_proto::negotiation`]; this module
//! only performs the webrtc-rs calls it asks for.

use std::sync::{Arc, Weak};

use tokio_util::sync::CancellationToken;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_H264};
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use webrtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::rtp_transceiver::rtp_codec::{
    RTCRtpCodecCapability, RTCRtpCodecParameters, RTPCodecType,
};
use webrtc::rtp_transceiver::rtp_sender::RTCRtpSender;
use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
use webrtc::rtp_transceiver::{RTCPFeedback, RTCRtpTransceiver, RTCRtpTransceiverInit};
use webrtc::track::track_local::TrackLocal;
use webrtc::track::track_remote::TrackRemote;

use super::link::{published_sdp, PeerLink};
use super::{LinkEvent, RtcError};

/// The video codec both directions use: H.264 constrained baseline, packetization mode 1 — what
/// browsers' WebRTC stacks all offer, and what `p2pcf-media` encodes and decodes.
pub const H264_FMTP: &str =
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
/// The RTP payload type of [`H264_FMTP`] in our offers.
pub const H264_PAYLOAD_TYPE: u8 = 102;

/// The codec capability a local H.264 track must be created with.
pub fn h264_capability() -> RTCRtpCodecCapability {
    RTCRtpCodecCapability {
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
            capability: h264_capability(),
            payload_type: H264_PAYLOAD_TYPE,
            ..Default::default()
        },
        RTPCodecType::Video,
    )?;
    Ok(m)
}

/// A track the peer sends us. Read RTP from [`RemoteTrack::track`] until
/// [`RemoteTrack::ended`]: the peer stopped sending it (a renegotiation left its m-line without
/// a send direction, or its SSRC went away) or the connection closed (reads fail).
#[derive(Clone)]
pub struct RemoteTrack {
    track: Arc<TrackRemote>,
    transceiver: Arc<RTCRtpTransceiver>,
    pc: Weak<RTCPeerConnection>,
    ended: CancellationToken,
}

impl RemoteTrack {
    pub(crate) fn new(
        track: Arc<TrackRemote>,
        transceiver: Arc<RTCRtpTransceiver>,
        pc: Weak<RTCPeerConnection>,
    ) -> Self {
        RemoteTrack {
            track,
            transceiver,
            pc,
            ended: CancellationToken::new(),
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

    /// After a negotiation: does the peer still send on this track's transceiver?
    fn still_received(&self) -> bool {
        let direction = self.transceiver.current_direction();
        direction == RTCRtpTransceiverDirection::Unspecified || direction.has_recv()
    }

    /// The webrtc-rs track (codec, SSRC, `read_rtp`).
    pub fn track(&self) -> &Arc<TrackRemote> {
        &self.track
    }

    /// `"video"` or `"audio"`.
    pub fn kind(&self) -> &'static str {
        match self.track.kind() {
            RTPCodecType::Audio => "audio",
            _ => "video",
        }
    }

    /// Asks the sender for a key frame (RTCP PLI). A no-op once the connection is gone.
    pub async fn request_keyframe(&self) {
        let Some(pc) = self.pc.upgrade() else {
            return;
        };
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: self.track.ssrc(),
        };
        if let Err(e) = pc.write_rtcp(&[Box::new(pli)]).await {
            tracing::debug!("keyframe request not sent: {e}");
        }
    }
}

impl std::fmt::Debug for RemoteTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTrack")
            .field("id", &self.track.id())
            .field("stream_id", &self.track.stream_id())
            .field("ssrc", &self.track.ssrc())
            .finish()
    }
}

impl PartialEq for RemoteTrack {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.track, &other.track)
    }
}

impl Eq for RemoteTrack {}

impl PeerLink {
    /// Adds a local track (sent once negotiated). Key-frame requests for it (RTCP PLI/FIR)
    /// arrive as [`LinkEvent::KeyframeRequested`].
    pub async fn add_track(
        &self,
        track: Arc<dyn TrackLocal + Send + Sync>,
    ) -> Result<Arc<RTCRtpSender>, RtcError> {
        // Always a new transceiver: webrtc-rs's `add_track` would reuse the stopped sender of an
        // earlier track with the same id, and then fail ("same envelope").
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendrecv,
            send_encodings: Vec::new(),
        };
        let transceiver = self
            .pc()
            .add_transceiver_from_track(track, Some(init))
            .await
            .map_err(closed_or)?;
        let sender = transceiver.sender().await;
        let reader = Arc::clone(&sender);
        let events = self.events().clone();
        let key = self.key().to_owned();
        tokio::spawn(async move {
            // Ends when the sender stops (track removed, connection closed).
            while let Ok((packets, _)) = reader.read_rtcp().await {
                let wants_keyframe = packets.iter().any(|p| {
                    let any = p.as_any();
                    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
                });
                if wants_keyframe
                    && events
                        .send((key.clone(), LinkEvent::KeyframeRequested))
                        .is_err()
                {
                    return;
                }
            }
        });
        Ok(sender)
    }

    /// Stops sending a track added with [`PeerLink::add_track`] (renegotiate afterwards).
    pub async fn remove_track(&self, sender: &Arc<RTCRtpSender>) -> Result<(), RtcError> {
        self.pc().remove_track(sender).await.map_err(closed_or)
    }

    /// Adds a transceiver the other side asked for (`"video"` or `"audio"`); without a track
    /// of ours it only receives.
    pub async fn add_transceiver(&self, kind: &str) -> Result<(), RtcError> {
        let kind = match kind {
            "audio" => RTPCodecType::Audio,
            "video" => RTPCodecType::Video,
            other => return Err(RtcError::Sdp(format!("unknown media kind {other:?}"))),
        };
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            send_encodings: Vec::new(),
        };
        self.pc()
            .add_transceiver_from_kind(kind, Some(init))
            .await
            .map_err(closed_or)?;
        Ok(())
    }

    /// Initiator: creates an offer, sets it locally; returns the SDP to send.
    pub async fn create_offer(&self) -> Result<String, RtcError> {
        let offer = self.pc().create_offer(None).await.map_err(closed_or)?;
        self.pc()
            .set_local_description(offer)
            .await
            .map_err(closed_or)?;
        self.local_sdp().await
    }

    /// Initiator: applies the answer to our offer.
    pub async fn accept_answer(&self, sdp: String) -> Result<(), RtcError> {
        let answer = RTCSessionDescription::answer(sdp)?;
        self.pc()
            .set_remote_description(answer)
            .await
            .map_err(closed_or)?;
        self.end_stopped_tracks();
        Ok(())
    }

    /// Ends the remote tracks a negotiation left without a receiving direction.
    fn end_stopped_tracks(&self) {
        let mut tracks = self
            .remote_tracks()
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        tracks.retain(|t| {
            if t.still_received() && !t.is_ended() {
                return true;
            }
            tracing::debug!(
                key = self.key(),
                ssrc = t.track.ssrc(),
                "remote track ended"
            );
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
            .map_err(closed_or)?;
        let answer = self.pc().create_answer(None).await.map_err(closed_or)?;
        self.pc()
            .set_local_description(answer)
            .await
            .map_err(closed_or)?;
        self.end_stopped_tracks();
        let mut missing = Vec::new();
        for t in self.pc().get_transceivers().await {
            if t.mid().is_none() && t.sender().await.track().await.is_some() {
                missing.push(match t.kind() {
                    RTPCodecType::Audio => "audio".to_owned(),
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
}

fn closed_or(e: webrtc::Error) -> RtcError {
    match e {
        webrtc::Error::ErrConnectionClosed => RtcError::Closed,
        other => RtcError::Webrtc(other),
    }
}
