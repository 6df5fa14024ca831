//! [`LocalTrack`]: one local video track shared with many peers.
//!
//! A webrtc 0.21 local track binds to exactly one peer connection, so a track shared with a
//! room is a fan-out: each peer gets its own `TrackLocalStaticSample` (own SSRC, own
//! packetizer), and [`LocalTrack::write_sample`] writes every frame to all of them with the
//! payload type each connection negotiated.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::rtp_transceiver::RtpSender;

use super::RtcError;

/// Numbers the per-peer tracks of the process (see [`LocalTrack::bind`]).
static BINDINGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// How often a per-peer track not bound yet (or any more) is asked again for RTCP.
const UNBOUND_POLL: Duration = Duration::from_millis(50);

/// A local media track (H.264 video) shared with peers through
/// [`crate::ClientHandle::add_track`]. Cheap to clone; clones are the same track.
#[derive(Clone)]
pub struct LocalTrack {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    stream_id: String,
    codec: RTCRtpCodec,
    bindings: Mutex<Vec<Arc<Binding>>>,
}

/// The track on one peer connection.
pub(crate) struct Binding {
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    sender: std::sync::OnceLock<Arc<dyn RtpSender>>,
    ended: CancellationToken,
}

impl Binding {
    pub(crate) fn track(&self) -> Arc<dyn TrackLocal> {
        Arc::clone(&self.track) as Arc<dyn TrackLocal>
    }

    pub(crate) fn set_sender(&self, sender: Arc<dyn RtpSender>) {
        let _ = self.sender.set(sender);
    }

    pub(crate) fn sender(&self) -> Option<&Arc<dyn RtpSender>> {
        self.sender.get()
    }

    pub(crate) fn end(&self) {
        self.ended.cancel();
    }

    /// Calls `on_request` for every key-frame request (PLI/FIR) the peer sends for this track,
    /// until the binding ends.
    pub(crate) async fn keyframe_requests(&self, mut on_request: impl FnMut() -> bool) {
        loop {
            let event = tokio::select! {
                event = self.track.poll() => event,
                () = self.ended.cancelled() => return,
            };
            match event {
                Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                    let wants = packets
                        .iter()
                        .any(|p| super::keyframe::is_keyframe_request(p.as_ref()));
                    if wants && !on_request() {
                        return;
                    }
                }
                Some(_) => {}
                None => tokio::select! {
                    () = tokio::time::sleep(UNBOUND_POLL) => {}
                    () = self.ended.cancelled() => return,
                },
            }
        }
    }
}

impl std::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("id", &self.inner.id)
            .field("stream_id", &self.inner.stream_id)
            .finish_non_exhaustive()
    }
}

impl LocalTrack {
    /// An H.264 track (see [`super::h264_capability`]) with this track id and stream id.
    pub fn h264(id: impl Into<String>, stream_id: impl Into<String>) -> Self {
        LocalTrack {
            inner: Arc::new(Inner {
                id: id.into(),
                stream_id: stream_id.into(),
                codec: super::h264_capability(),
                bindings: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The track id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The stream id.
    pub fn stream_id(&self) -> &str {
        &self.inner.stream_id
    }

    /// How many peer connections currently carry this track.
    pub fn peer_count(&self) -> usize {
        self.bindings().len()
    }

    /// Writes one encoded frame (an H.264 access unit lasting `duration`) to every peer the
    /// track is negotiated with; returns to how many it was written. Peers whose negotiation
    /// has not finished yet are skipped.
    pub async fn write_sample(&self, data: Bytes, duration: Duration) -> usize {
        let now = Instant::now();
        let mut written = 0;
        for binding in self.bindings() {
            let Some(sender) = binding.sender() else {
                continue;
            };
            // Ask each time: a renegotiation (or a browser's offer) decides the payload type.
            let payload_type = match sender.get_parameters().await {
                Ok(params) => params.rtp_parameters.codecs.first().map(|c| c.payload_type),
                Err(_) => None,
            };
            let Some(payload_type) = payload_type else {
                continue;
            };
            let sample = Sample {
                data: data.clone(),
                duration,
                ..Sample::new(now)
            };
            match binding
                .track
                .sample_writer(binding.ssrc, payload_type)
                .write_sample(&sample)
                .await
            {
                Ok(()) => written += 1,
                Err(e) => tracing::trace!(track = %self.inner.id, "sample not written: {e}"),
            }
        }
        written
    }

    /// A new per-peer track. Its track id on the wire is `<id>.<n>`, unique in the process:
    /// webrtc-rs's receiver treats a track id it has seen on a connection as the same track
    /// (simulcast layers), so re-sharing a track under the same id would never be announced.
    pub(crate) fn bind(&self) -> Result<Arc<Binding>, RtcError> {
        let ssrc = rand::random::<u32>();
        let n = BINDINGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let track = MediaStreamTrack::new(
            self.inner.stream_id.clone(),
            format!("{}.{n}", self.inner.id),
            self.inner.id.clone(),
            RtpCodecKind::Video,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: self.inner.codec.clone(),
                active: true,
                ..Default::default()
            }],
        );
        let binding = Arc::new(Binding {
            track: Arc::new(TrackLocalStaticSample::new(Instant::now(), track)?),
            ssrc,
            sender: std::sync::OnceLock::new(),
            ended: CancellationToken::new(),
        });
        self.inner
            .bindings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&binding));
        Ok(binding)
    }

    /// Forgets a per-peer track (removed, or its connection closed).
    pub(crate) fn unbind(&self, binding: &Arc<Binding>) {
        binding.end();
        self.inner
            .bindings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|b| !Arc::ptr_eq(b, binding));
    }

    fn bindings(&self) -> Vec<Arc<Binding>> {
        let mut bindings = self
            .inner
            .bindings
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        bindings.retain(|b| !b.ended.is_cancelled());
        bindings.clone()
    }
}
