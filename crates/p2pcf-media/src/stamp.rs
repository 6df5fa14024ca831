//! A machine-readable frame stamp that survives lossy video compression.
//!
//! The stamp is a grid of large black/white blocks in the top-left corner,
//! aligned to the 16-pixel macroblock grid so an encoder keeps their edges.
//! Each row starts with a black and a white guard block (they also give the
//! reader its threshold), carries data bits (white = 1), and ends with an even
//! parity block. The 112 payload bits are the frame number (u32, big-endian),
//! the capture time in unix microseconds (u64) and a CRC-16/CCITT over both.

use crate::frame::Frame;

/// Values carried by the stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Frame counter of the source.
    pub frame_number: u32,
    /// Capture time, unix microseconds.
    pub capture_time_us: u64,
}

/// Smallest frame the stamp layout supports.
pub const MIN_WIDTH: u32 = 320;
/// Smallest frame height the stamp layout supports.
pub const MIN_HEIGHT: u32 = 240;

const PAYLOAD_BYTES: usize = 14;
const PAYLOAD_BITS: usize = PAYLOAD_BYTES * 8;
const MAX_COLS: usize = 40;
/// Guard cells (black, white) at the start of a row, parity cell at its end.
const OVERHEAD_COLS: usize = 3;
const Y_BLACK: u8 = 16;
const Y_WHITE: u8 = 235;
/// Minimum white-minus-black luma difference for a row to be trusted.
const MIN_CONTRAST: u32 = 64;

/// Where the stamp sits in a frame of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Edge of one square block in pixels (multiple of 16).
    pub block: usize,
    /// Blocks per row, guards and parity included.
    pub cols: usize,
    /// Number of block rows.
    pub rows: usize,
}

impl Layout {
    /// The layout for a frame size, or `None` if the frame is too small.
    pub fn for_size(width: u32, height: u32) -> Option<Self> {
        if width < MIN_WIDTH || height < MIN_HEIGHT {
            return None;
        }
        let block = 16 * (width as usize / 640).max(1);
        let cols = (width as usize / block).min(MAX_COLS);
        let per_row = cols - OVERHEAD_COLS;
        let rows = PAYLOAD_BITS.div_ceil(per_row);
        Some(Self { block, cols, rows })
    }

    /// Height in pixels covered by the block grid.
    pub fn height_px(&self) -> usize {
        self.rows * self.block
    }

    fn data_cols(&self) -> usize {
        self.cols - OVERHEAD_COLS
    }
}

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF).
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn payload(stamp: Stamp) -> [u8; PAYLOAD_BYTES] {
    let mut out = [0u8; PAYLOAD_BYTES];
    out[..4].copy_from_slice(&stamp.frame_number.to_be_bytes());
    out[4..12].copy_from_slice(&stamp.capture_time_us.to_be_bytes());
    let crc = crc16(&out[..12]);
    out[12..].copy_from_slice(&crc.to_be_bytes());
    out
}

fn bit(payload: &[u8; PAYLOAD_BYTES], index: usize) -> bool {
    index < PAYLOAD_BITS && payload[index / 8] & (0x80 >> (index % 8)) != 0
}

/// The cell values (true = white) of one row, guards and parity included.
fn row_cells(layout: &Layout, payload: &[u8; PAYLOAD_BYTES], row: usize) -> Vec<bool> {
    let mut cells = Vec::with_capacity(layout.cols);
    cells.push(false);
    cells.push(true);
    let first = row * layout.data_cols();
    let data: Vec<bool> = (first..first + layout.data_cols())
        .map(|i| bit(payload, i))
        .collect();
    let parity = data.iter().filter(|&&b| b).count() % 2 == 1;
    cells.extend(data);
    cells.push(parity);
    cells
}

/// Paints the stamp into the frame's top-left corner (luma black/white, neutral chroma).
///
/// Does nothing if the frame is smaller than 320x240.
pub fn draw_stamp(frame: &mut Frame, stamp: Stamp) {
    let Some(layout) = Layout::for_size(frame.width(), frame.height()) else {
        return;
    };
    let width = frame.width() as usize;
    let payload = payload(stamp);
    let (y_plane, u_plane, v_plane) = frame.planes_mut();
    for row in 0..layout.rows {
        for (col, white) in row_cells(&layout, &payload, row).into_iter().enumerate() {
            let luma = if white { Y_WHITE } else { Y_BLACK };
            let (x0, y0) = (col * layout.block, row * layout.block);
            for y in y0..y0 + layout.block {
                y_plane[y * width + x0..y * width + x0 + layout.block].fill(luma);
            }
            let half = width / 2;
            for y in y0 / 2..(y0 + layout.block) / 2 {
                let range = y * half + x0 / 2..y * half + (x0 + layout.block) / 2;
                u_plane[range.clone()].fill(128);
                v_plane[range].fill(128);
            }
        }
    }
    // Blank the rest of the stamp band so nothing moving sits beside the blocks.
    let used = layout.cols * layout.block;
    for y in 0..layout.height_px() {
        y_plane[y * width + used..(y + 1) * width].fill(Y_BLACK);
    }
}

/// Mean studio-swing luma of the central half of one block.
fn cell_luma(rgba: &[u8], width: usize, layout: &Layout, row: usize, col: usize) -> u32 {
    let quarter = layout.block / 4;
    let (x0, y0) = (col * layout.block + quarter, row * layout.block + quarter);
    let (mut sum, mut n) = (0u32, 0u32);
    for y in (y0..y0 + 2 * quarter).step_by(2) {
        for x in (x0..x0 + 2 * quarter).step_by(2) {
            let i = (y * width + x) * 4;
            let (r, g, b) = (
                u32::from(rgba[i]),
                u32::from(rgba[i + 1]),
                u32::from(rgba[i + 2]),
            );
            sum += ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
            n += 1;
        }
    }
    sum / n.max(1)
}

/// Decodes the stamp from a decoded RGBA frame (`width*height*4` bytes).
///
/// Returns `None` if the frame is too small or the buffer has the wrong size,
/// if a row's guard blocks lack contrast, or if a parity or CRC check fails.
pub fn read_stamp(frame_rgba: &[u8], width: u32, height: u32) -> Option<Stamp> {
    let layout = Layout::for_size(width, height)?;
    let w = width as usize;
    if frame_rgba.len() != w * height as usize * 4 {
        return None;
    }
    let mut payload = [0u8; PAYLOAD_BYTES];
    for row in 0..layout.rows {
        let black = cell_luma(frame_rgba, w, &layout, row, 0);
        let white = cell_luma(frame_rgba, w, &layout, row, 1);
        if white < black + MIN_CONTRAST {
            return None;
        }
        let mid = (black + white) / 2;
        let mut ones = 0;
        for col in 2..layout.cols {
            let set = cell_luma(frame_rgba, w, &layout, row, col) > mid;
            ones += usize::from(set);
            let index = row * layout.data_cols() + col - 2;
            if set && col < layout.cols - 1 && index < PAYLOAD_BITS {
                payload[index / 8] |= 0x80 >> (index % 8);
            }
        }
        if ones % 2 != 0 {
            return None;
        }
    }
    let crc = u16::from_be_bytes([payload[12], payload[13]]);
    if crc != crc16(&payload[..12]) {
        return None;
    }
    let mut frame_number = [0u8; 4];
    frame_number.copy_from_slice(&payload[..4]);
    let mut time = [0u8; 8];
    time.copy_from_slice(&payload[4..12]);
    Some(Stamp {
        frame_number: u32::from_be_bytes(frame_number),
        capture_time_us: u64::from_be_bytes(time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_ccitt_false_check_value() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn layouts_scale_blocks_with_width_and_fit_the_payload() {
        for (w, h) in [
            (320, 240),
            (640, 480),
            (1280, 720),
            (1920, 1080),
            (3840, 2160),
        ] {
            let l = Layout::for_size(w, h).expect("layout");
            assert!(l.block >= 16 && l.block % 16 == 0);
            assert!(l.cols * l.block <= w as usize);
            assert!(l.rows * (l.cols - OVERHEAD_COLS) >= PAYLOAD_BITS);
            assert!(l.height_px() <= h as usize / 2, "{w}x{h}: {l:?}");
        }
        assert_eq!(Layout::for_size(318, 240), None);
    }

    #[test]
    fn stamp_round_trips_through_rgba_and_rejects_corruption() {
        let mut frame = Frame::new(640, 480).expect("frame");
        let stamp = Stamp {
            frame_number: 0xDEAD_BEEF,
            capture_time_us: 1_732_560_000_123_456,
        };
        draw_stamp(&mut frame, stamp);
        let mut rgba = frame.to_rgba();
        assert_eq!(read_stamp(&rgba, 640, 480), Some(stamp));
        // Flip one data block (row 0, col 5) to white-ish/black-ish: parity must catch it.
        let l = Layout::for_size(640, 480).expect("layout");
        let flip_to = if rgba[(l.block / 2 * 640 + 5 * l.block + l.block / 2) * 4] > 128 {
            0
        } else {
            255
        };
        for y in 0..l.block {
            for x in 5 * l.block..6 * l.block {
                rgba[(y * 640 + x) * 4..(y * 640 + x) * 4 + 3].fill(flip_to);
            }
        }
        assert_eq!(read_stamp(&rgba, 640, 480), None);
        assert_eq!(read_stamp(&vec![0u8; 640 * 480 * 4], 640, 480), None);
        assert_eq!(read_stamp(&rgba[..100], 640, 480), None);
    }
}
