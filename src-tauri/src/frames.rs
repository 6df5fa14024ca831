//! Video frames to the UI: raw RGBA over one `tauri::ipc::Channel` (JSON events are far too
//! slow for pictures), each message a [`HEADER_LEN`]-byte header and the pixels. The UI draws
//! the picture into the tile's `<canvas>` and acknowledges it (`video_frame_shown`); a tile has
//! at most [`MAX_IN_FLIGHT`] frames on their way, so a slow UI loses frames (counted), never
//! memory.
//!
//! Message layout, little-endian: `u32 tile`, `u32 width`, `u32 height`, `u32 frame index`
//! (low 32 bits), then `width * height * 4` bytes of RGBA. Tile 0 is our own preview.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tauri::ipc::{Channel, InvokeResponseBody};

/// Bytes before the pixels.
pub const HEADER_LEN: usize = 16;
/// Frames of one tile sent to the UI and not yet drawn.
pub const MAX_IN_FLIGHT: u32 = 2;
/// Without any acknowledgement for this long, the frames in flight count as lost (a reloaded
/// page never acknowledges what the old one was sent).
const STALL: Duration = Duration::from_secs(2);
/// The tile of our own preview.
pub const PREVIEW_TILE: u32 = 0;

/// Encodes one frame message.
pub fn encode(tile: u32, width: u32, height: u32, index: u64, rgba: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + rgba.len());
    for v in [tile, width, height, index as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(rgba);
    out
}

/// Flow control of one tile: how many frames the UI has not drawn yet.
#[derive(Debug)]
pub struct Credit {
    in_flight: u32,
    last_progress: Instant,
    /// Frames not sent because the UI was behind.
    pub dropped: u64,
    /// Frames sent.
    pub sent: u64,
}

impl Credit {
    pub fn new(now: Instant) -> Self {
        Credit {
            in_flight: 0,
            last_progress: now,
            dropped: 0,
            sent: 0,
        }
    }

    /// Whether a frame may go now; counts it as sent or dropped.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.in_flight >= MAX_IN_FLIGHT && now.duration_since(self.last_progress) >= STALL {
            self.in_flight = 0;
            self.last_progress = now;
        }
        if self.in_flight >= MAX_IN_FLIGHT {
            self.dropped += 1;
            return false;
        }
        if self.in_flight == 0 {
            self.last_progress = now;
        }
        self.in_flight += 1;
        self.sent += 1;
        true
    }

    /// The UI drew a frame.
    pub fn ack(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.last_progress = now;
    }
}

#[derive(Default)]
struct Inner {
    channel: Option<Channel<InvokeResponseBody>>,
    credits: HashMap<u32, Credit>,
}

/// Where every tile's frames go: the UI's channel (set by `set_video_channel`), shared by
/// the app state and the rooms.
#[derive(Clone, Default)]
pub struct FrameSink(Arc<Mutex<Inner>>);

impl FrameSink {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The UI (re)loaded and listens on `channel`; frames in flight to an old page are void.
    pub fn set_channel(&self, channel: Channel<InvokeResponseBody>) {
        let mut inner = self.lock();
        inner.channel = Some(channel);
        inner.credits.clear();
    }

    /// Sends a frame to `tile` unless the UI is behind on it (or not listening). Returns whether
    /// it was sent.
    pub fn offer(&self, tile: u32, width: u32, height: u32, index: u64, rgba: &[u8]) -> bool {
        let channel = {
            let mut inner = self.lock();
            let Some(channel) = inner.channel.clone() else {
                return false;
            };
            let now = Instant::now();
            let credit = inner
                .credits
                .entry(tile)
                .or_insert_with(|| Credit::new(now));
            if !credit.take(now) {
                return false;
            }
            channel
        };
        let message = encode(tile, width, height, index, rgba);
        if let Err(e) = channel.send(InvokeResponseBody::Raw(message)) {
            tracing::debug!(tile, "video frame not sent to the UI: {e}");
            return false;
        }
        true
    }

    /// The UI drew a frame of `tile`.
    pub fn ack(&self, tile: u32) {
        if let Some(credit) = self.lock().credits.get_mut(&tile) {
            credit.ack(Instant::now());
        }
    }

    /// Forgets a tile that ended; returns its (sent, dropped) counts.
    pub fn remove(&self, tile: u32) -> Option<(u64, u64)> {
        self.lock()
            .credits
            .remove(&tile)
            .map(|c| (c.sent, c.dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_carries_tile_size_and_index_before_the_pixels() {
        let rgba = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let m = encode(7, 2, 1, (1 << 32) + 9, &rgba);
        assert_eq!(m.len(), HEADER_LEN + 8);
        assert_eq!(&m[0..4], &7u32.to_le_bytes());
        assert_eq!(&m[4..8], &2u32.to_le_bytes());
        assert_eq!(&m[8..12], &1u32.to_le_bytes());
        assert_eq!(&m[12..16], &9u32.to_le_bytes());
        assert_eq!(&m[16..], &rgba);
    }

    #[test]
    fn a_slow_ui_gets_at_most_two_frames_ahead_and_the_rest_are_dropped() {
        let t0 = Instant::now();
        let mut c = Credit::new(t0);
        assert!(c.take(t0));
        assert!(c.take(t0));
        assert!(!c.take(t0));
        assert!(!c.take(t0 + Duration::from_millis(100)));
        assert_eq!((c.sent, c.dropped), (2, 2));
        c.ack(t0 + Duration::from_millis(150));
        assert!(c.take(t0 + Duration::from_millis(160)));
        assert!(!c.take(t0 + Duration::from_millis(170)));
    }

    #[test]
    fn frames_never_acknowledged_count_as_lost_after_a_stall() {
        let t0 = Instant::now();
        let mut c = Credit::new(t0);
        assert!(c.take(t0) && c.take(t0));
        assert!(!c.take(t0 + STALL - Duration::from_millis(1)));
        assert!(c.take(t0 + STALL));
        assert_eq!(c.sent, 3);
    }
}
