//! Remote track → depacketize → H.264 decode → RGBA frames.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use p2pcf_client::RemoteTrack;
use p2pcf_media::H264Decoder;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::h264::H264Packet;
use tokio::sync::mpsc;

use crate::stats::FpsMeter;

/// Access units waiting for the decoder; when it is full, units are dropped and a key frame is
/// requested (the stream cannot be decoded past a gap anyway).
const DECODE_QUEUE: usize = 8;
/// How many packets the sample builder waits for a late one.
const MAX_LATE: u16 = 256;
/// Key frames are requested at most this often.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(500);

/// One decoded picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes of RGBA.
    pub rgba: Vec<u8>,
    /// Count of frames decoded on this track, starting at 1.
    pub index: u64,
}

/// What a receiver reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverEvent {
    /// A decoded frame.
    Frame(ReceivedFrame),
    /// The track ended (removed by the peer, or the connection closed). Nothing follows.
    Ended,
}

/// Running statistics of a receiver.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReceiverStats {
    /// Frames decoded.
    pub frames: u64,
    /// Frames per second decoded over the last second.
    pub fps: f64,
    /// Size of the last decoded frame.
    pub width: u32,
    pub height: u32,
    /// Access units the decoder refused.
    pub decode_errors: u64,
    /// Frames dropped because the consumer did not keep up, or units dropped before decoding.
    pub dropped: u64,
}

/// A running receiver of one remote video track.
#[derive(Debug)]
pub struct VideoReceiver {
    stats: Arc<Mutex<(ReceiverStats, FpsMeter)>>,
    reader: tokio::task::JoinHandle<()>,
}

impl VideoReceiver {
    /// Starts reading `track`; decoded frames and the end go to `events` (bounded: frames the
    /// consumer has no room for are dropped and counted, `Ended` always arrives). Must be
    /// called inside a tokio runtime.
    pub fn start(track: RemoteTrack, events: mpsc::Sender<ReceiverEvent>) -> Self {
        let stats = Arc::new(Mutex::new((
            ReceiverStats::default(),
            FpsMeter::new(Duration::from_secs(1)),
        )));
        let (units_tx, units_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(DECODE_QUEUE);
        let decoder_stats = Arc::clone(&stats);
        let decoder_track = track.clone();
        let handle = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("decode".into())
            .spawn(move || decode(units_rx, events, decoder_stats, decoder_track, handle))
            .map_err(|e| tracing::warn!("video decoder thread: {e}"))
            .ok();
        let reader_stats = Arc::clone(&stats);
        let reader = tokio::spawn(read(track, units_tx, reader_stats));
        VideoReceiver { stats, reader }
    }

    /// Statistics so far.
    pub fn stats(&self) -> ReceiverStats {
        let mut guard = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let (stats, meter) = &mut *guard;
        stats.fps = meter.fps(Instant::now());
        *stats
    }

    /// Whether the track ended (reading stopped).
    pub fn is_finished(&self) -> bool {
        self.reader.is_finished()
    }
}

impl Drop for VideoReceiver {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read(
    track: RemoteTrack,
    units: std::sync::mpsc::SyncSender<Vec<u8>>,
    stats: Arc<Mutex<(ReceiverStats, FpsMeter)>>,
) {
    let mut builder = SampleBuilder::new(MAX_LATE, H264Packet::default(), 90_000);
    let mut last_request: Option<Instant> = None;
    let mut want_keyframe = true;
    loop {
        let Some(packet) = track.read_rtp().await else {
            tracing::debug!("remote video track ended");
            return;
        };
        builder.push(Instant::now(), packet);
        while let Some(sample) = builder.pop(Instant::now()) {
            if sample.prev_dropped_packets > 0 {
                want_keyframe = true;
            }
            match units.try_send(sample.data.to_vec()) {
                Ok(()) => {}
                Err(std::sync::mpsc::TrySendError::Full(_)) => {
                    stats.lock().unwrap_or_else(|e| e.into_inner()).0.dropped += 1;
                    want_keyframe = true;
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
            }
        }
        if want_keyframe && last_request.is_none_or(|at| at.elapsed() >= KEYFRAME_REQUEST_GAP) {
            want_keyframe = false;
            last_request = Some(Instant::now());
            track.request_keyframe().await;
        }
    }
}

fn decode(
    units: std::sync::mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<ReceiverEvent>,
    stats: Arc<Mutex<(ReceiverStats, FpsMeter)>>,
    track: RemoteTrack,
    runtime: tokio::runtime::Handle,
) {
    let mut decoder = match H264Decoder::new() {
        Ok(decoder) => Some(decoder),
        Err(e) => {
            tracing::warn!("no H.264 decoder: {e}");
            None
        }
    };
    let mut index = 0;
    let mut last_request: Option<Instant> = None;
    // Ends when the reader stops (track ended) and drops its sender.
    while let Ok(unit) = units.recv() {
        let Some(decoder) = decoder.as_mut() else {
            continue;
        };
        match decoder.decode(&unit) {
            Ok(Some(frame)) => {
                index += 1;
                {
                    let mut guard = stats.lock().unwrap_or_else(|e| e.into_inner());
                    let (s, meter) = &mut *guard;
                    s.frames = index;
                    s.width = frame.width;
                    s.height = frame.height;
                    meter.tick(Instant::now());
                }
                let event = ReceiverEvent::Frame(ReceivedFrame {
                    width: frame.width,
                    height: frame.height,
                    rgba: frame.rgba,
                    index,
                });
                if let Err(mpsc::error::TrySendError::Full(_)) = events.try_send(event) {
                    stats.lock().unwrap_or_else(|e| e.into_inner()).0.dropped += 1;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!("undecodable access unit: {e}");
                stats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .0
                    .decode_errors += 1;
                if last_request.is_none_or(|at| at.elapsed() >= KEYFRAME_REQUEST_GAP) {
                    last_request = Some(Instant::now());
                    let track = track.clone();
                    runtime.spawn(async move { track.request_keyframe().await });
                }
            }
        }
    }
    let _ = events.blocking_send(ReceiverEvent::Ended);
}
