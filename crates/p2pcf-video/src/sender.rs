//! Source → H.264 → webrtc-rs track.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use p2pcf_client::LocalTrack;
use p2pcf_media::{EncoderSettings, H264Encoder, VideoSource};
use tokio::sync::mpsc;

use crate::stats::thread_cpu_time;
use crate::VideoError;

/// Encoded frames waiting for the track writer; the encoder waits when it is full.
const ENCODED_QUEUE: usize = 4;

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendSettings {
    /// Frames per second offered.
    pub fps: u32,
    /// Target bitrate.
    pub bitrate_bps: u32,
}

impl Default for SendSettings {
    fn default() -> Self {
        SendSettings {
            fps: 30,
            bitrate_bps: 1_500_000,
        }
    }
}

/// What the sender did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SenderStats {
    /// Frames encoded.
    pub frames: u64,
    /// Of which key frames (periodic, requested, first).
    pub keyframes: u64,
    /// Encoded bytes.
    pub bytes: u64,
    /// CPU time spent in the encoder.
    pub encode_cpu: Duration,
    /// Time since the sender started.
    pub elapsed: Duration,
    /// Frames a source failed to deliver.
    pub source_errors: u64,
}

impl SenderStats {
    /// Encoder CPU as a percentage of one core over the sender's lifetime.
    pub fn encode_cpu_percent(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        100.0 * self.encode_cpu.as_secs_f64() / self.elapsed.as_secs_f64()
    }
}

/// Requests a key frame from a [`VideoSender`]; cloneable, outlives nothing.
#[derive(Debug, Clone)]
pub struct KeyframeTrigger(Arc<AtomicBool>);

impl KeyframeTrigger {
    /// The sender's next frame is encoded as a key frame.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A running video sender: a paced encoder thread and a task writing to the track.
pub struct VideoSender {
    track: LocalTrack,
    keyframe: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<SenderStats>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for VideoSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoSender")
            .field("track", &self.track_id())
            .finish_non_exhaustive()
    }
}

impl VideoSender {
    /// Starts encoding `source` at `settings.fps` onto a new H.264 track with id `track_id`
    /// (stream id `stream-<track_id>`). Share it with [`VideoSender::track`]. Must be called
    /// inside a tokio runtime.
    pub fn start(
        track_id: &str,
        source: Box<dyn VideoSource + Send>,
        settings: SendSettings,
    ) -> Result<Self, VideoError> {
        Self::start_with(
            track_id,
            move || Ok(source as Box<dyn VideoSource>),
            settings,
        )
    }

    /// [`VideoSender::start`] for sources that must stay on one thread (a V4L2 camera): `open`
    /// runs on the encoder thread; its error, or the encoder's, is returned here.
    pub fn start_with<F>(
        track_id: &str,
        open: F,
        settings: SendSettings,
    ) -> Result<Self, VideoError>
    where
        F: FnOnce() -> Result<Box<dyn VideoSource>, p2pcf_media::MediaError> + Send + 'static,
    {
        let fps = settings.fps.clamp(1, 120);
        let track = LocalTrack::h264(track_id, format!("stream-{track_id}"));
        let (encoded_tx, encoded_rx) = mpsc::channel(ENCODED_QUEUE);
        let keyframe = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(SenderStats::default()));
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), VideoError>>(1);
        let (k, st, sts) = (Arc::clone(&keyframe), Arc::clone(&stop), Arc::clone(&stats));
        let thread = std::thread::Builder::new()
            .name(format!("encode-{track_id}"))
            .spawn(move || {
                let opened = open().and_then(|source| {
                    let (width, height) = source.size();
                    let encoder = H264Encoder::new(EncoderSettings {
                        width,
                        height,
                        fps,
                        bitrate_bps: settings.bitrate_bps,
                    })?;
                    Ok((source, encoder))
                });
                let (source, encoder) = match opened {
                    Ok(parts) => parts,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                Encoding {
                    source,
                    encoder,
                    frame_time: Duration::from_secs(1) / fps,
                    keyframe: k,
                    stop: st,
                    stats: sts,
                    out: encoded_tx,
                }
                .run()
            })
            .map_err(|e| VideoError::Media(p2pcf_media::MediaError::Encoder(e.to_string())))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(VideoError::Media(p2pcf_media::MediaError::Encoder(
                    "the encoder thread ended during start-up".into(),
                )));
            }
        }
        tokio::spawn(write_samples(track.clone(), encoded_rx));
        Ok(VideoSender {
            track,
            keyframe,
            stop,
            stats,
            thread: Some(thread),
        })
    }

    /// The track to pass to [`p2pcf_client::ClientHandle::add_track`].
    pub fn track(&self) -> LocalTrack {
        self.track.clone()
    }

    /// The track id (what [`p2pcf_client::ClientHandle::remove_track`] takes).
    pub fn track_id(&self) -> &str {
        self.track.id()
    }

    /// The next frame is encoded as a key frame (a peer joined or lost packets).
    pub fn request_keyframe(&self) {
        self.keyframe.store(true, Ordering::Relaxed);
    }

    /// A cheap handle that requests key frames from elsewhere (e.g. an event loop task).
    pub fn keyframe_trigger(&self) -> KeyframeTrigger {
        KeyframeTrigger(Arc::clone(&self.keyframe))
    }

    /// Statistics so far.
    pub fn stats(&self) -> SenderStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops encoding; returns the final statistics.
    pub fn stop(mut self) -> SenderStats {
        self.halt();
        self.stats()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("video encoder thread panicked");
            }
        }
    }
}

impl Drop for VideoSender {
    fn drop(&mut self) {
        self.halt();
    }
}

struct Encoding {
    source: Box<dyn VideoSource>,
    encoder: H264Encoder,
    frame_time: Duration,
    keyframe: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<SenderStats>>,
    out: mpsc::Sender<(Bytes, Duration)>,
}

impl Encoding {
    fn run(mut self) {
        let started = Instant::now();
        let mut next = started;
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            // Paced by the clock: a slow frame is followed by the next one on schedule, not by
            // a burst catching up.
            next = (next + self.frame_time).max(Instant::now());
            let frame = match self.source.next_frame() {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::debug!("video source: {e}");
                    self.update(|s| s.source_errors += 1);
                    continue;
                }
            };
            if self.keyframe.swap(false, Ordering::Relaxed) {
                self.encoder.force_keyframe();
            }
            let cpu_before = thread_cpu_time();
            let encoded = self.encoder.encode(&frame);
            let cpu = match (cpu_before, thread_cpu_time()) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => Duration::ZERO,
            };
            let encoded = match encoded {
                Ok(data) if !data.is_empty() => data,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!("video encoder: {e}");
                    continue;
                }
            };
            let key = p2pcf_media::is_keyframe(&encoded);
            let len = encoded.len() as u64;
            self.update(|s| {
                s.frames += 1;
                s.keyframes += u64::from(key);
                s.bytes += len;
                s.encode_cpu += cpu;
                s.elapsed = started.elapsed();
            });
            if self
                .out
                .blocking_send((Bytes::from(encoded), self.frame_time))
                .is_err()
            {
                return;
            }
        }
    }

    fn update(&self, f: impl FnOnce(&mut SenderStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

async fn write_samples(track: LocalTrack, mut encoded: mpsc::Receiver<(Bytes, Duration)>) {
    while let Some((data, duration)) = encoded.recv().await {
        // Peers not negotiated yet are skipped; the frame is then simply not sent to them.
        let peers = track.write_sample(data, duration).await;
        tracing::trace!(peers, "video sample written");
    }
}
