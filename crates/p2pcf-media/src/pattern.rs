//! A synthetic moving test pattern carrying a frame stamp.
//!
//! Layout, top to bottom: the machine-readable [`Stamp`] block grid, a band with
//! the same numbers as human-readable digits, then a scrolling colour gradient
//! with a white bar sweeping left to right (one full sweep every 90 frames).
//! Everything is drawn straight into I420, so generating a frame is cheap.

use crate::font;
use crate::frame::Frame;
use crate::stamp::{self, Layout, Stamp};
use crate::{MediaError, VideoSource};

/// Generates numbered, timestamped frames; see the module docs.
#[derive(Debug, Clone)]
pub struct TestPattern {
    width: u32,
    height: u32,
    layout: Layout,
    next_number: u32,
}

impl TestPattern {
    /// A pattern of the given size: even, and at least 320x240.
    pub fn new(width: u32, height: u32) -> Result<Self, MediaError> {
        crate::frame::check_dimensions(width, height)?;
        let layout = Layout::for_size(width, height).ok_or(MediaError::InvalidDimensions {
            width,
            height,
            reason: "the test pattern needs at least 320x240",
        })?;
        Ok(Self {
            width,
            height,
            layout,
            next_number: 0,
        })
    }

    /// Number the next frame will carry.
    pub fn next_frame_number(&self) -> u32 {
        self.next_number
    }

    /// Renders the next frame, stamped with its number and `capture_time_us`
    /// (unix microseconds); the frame number then increments.
    pub fn next_frame(&mut self, capture_time_us: u64) -> Frame {
        let number = self.next_number;
        self.next_number = self.next_number.wrapping_add(1);
        let mut frame = Frame::black(self.width, self.height);
        frame.set_capture_time_us(capture_time_us);
        let text_top = self.layout.height_px();
        let scale = (self.width as usize / 320).max(1);
        let band = (font::CELL_H + 4) * scale;
        // Keep the moving area aligned to the 16-pixel macroblock grid.
        let moving_top = (text_top + band).div_ceil(16) * 16;
        self.draw_motion(&mut frame, number, moving_top);
        stamp::draw_stamp(
            &mut frame,
            Stamp {
                frame_number: number,
                capture_time_us,
            },
        );
        let text = format!("#{number:010} T{capture_time_us:016}us");
        let width = self.width as usize;
        let x = 2 * scale;
        let (y_plane, _, _) = frame.planes_mut();
        let height = self.height as usize;
        font::draw_text(
            y_plane,
            width,
            height,
            (x, text_top + 2 * scale),
            scale,
            &text,
            235,
        );
        frame
    }

    /// Gradient scrolling with the frame number, plus the sweeping bar.
    fn draw_motion(&self, frame: &mut Frame, number: u32, top: usize) {
        let (w, h) = (self.width as usize, self.height as usize);
        let shift = number as usize * 4;
        let bar_w = (w / 16).max(8);
        let bar_x = (number as usize % 90) * (w - bar_w) / 89;
        let (y_plane, u_plane, v_plane) = frame.planes_mut();
        for y in top..h {
            let row = &mut y_plane[y * w..(y + 1) * w];
            for (x, px) in row.iter_mut().enumerate() {
                *px = if (bar_x..bar_x + bar_w).contains(&x) {
                    235
                } else {
                    (32 + ((x + shift) * 160 / w) % 160 + (y * 32 / h)) as u8
                };
            }
        }
        let (cw, ch) = (w / 2, h / 2);
        for cy in top / 2..ch {
            let u = (64 + cy * 128 / ch) as u8;
            u_plane[cy * cw..(cy + 1) * cw].fill(u);
            let v_row = &mut v_plane[cy * cw..(cy + 1) * cw];
            for (cx, px) in v_row.iter_mut().enumerate() {
                *px = (64 + ((cx * 2 + shift * 2) % w) * 128 / w) as u8;
            }
        }
    }
}

/// A [`TestPattern`] driven by the wall clock.
impl VideoSource for TestPattern {
    fn next_frame(&mut self) -> Result<Frame, MediaError> {
        Ok(TestPattern::next_frame(self, crate::unix_time_us()))
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_stamp;

    #[test]
    fn consecutive_frames_differ_and_carry_their_numbers() {
        let mut p = TestPattern::new(320, 240).expect("pattern");
        let a = p.next_frame(1_000);
        let b = p.next_frame(2_000);
        assert_ne!(a.y(), b.y());
        let sa = read_stamp(&a.to_rgba(), 320, 240).expect("stamp a");
        let sb = read_stamp(&b.to_rgba(), 320, 240).expect("stamp b");
        assert_eq!((sa.frame_number, sa.capture_time_us), (0, 1_000));
        assert_eq!((sb.frame_number, sb.capture_time_us), (1, 2_000));
    }

    #[test]
    fn too_small_or_odd_patterns_are_refused() {
        assert!(TestPattern::new(160, 120).is_err());
        assert!(TestPattern::new(641, 480).is_err());
    }

    #[test]
    fn odd_resolutions_above_the_minimum_are_stamped() {
        for (w, h) in [(322, 242), (800, 600), (1366, 768), (1920, 1080)] {
            let mut p = TestPattern::new(w, h).expect("pattern");
            let f = p.next_frame(42);
            let s = read_stamp(&f.to_rgba(), w, h).expect("stamp");
            assert_eq!(s.capture_time_us, 42, "{w}x{h}");
        }
    }
}
