//! X11 screen capture with `x11rb` (pure Rust, core protocol `GetImage` on the root window).
//!
//! Works on any X server with a 24- or 32-bit TrueColor root (Xorg, Xvfb,
//! XWayland). Each call fetches the whole root window; at 1920x1080 that is
//! 8 MB over the local socket, fine at screen-sharing frame rates.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder, Window};
use x11rb::rust_connection::RustConnection;

use crate::frame::{bgra_to_i420, check_dimensions};
use crate::{unix_time_us, Frame, MediaError, VideoSource};

/// Captures the root window of an X display as I420 frames.
pub struct ScreenCapture {
    conn: RustConnection,
    root: Window,
    /// Captured area: the root size rounded down to even numbers.
    capture: (u16, u16),
    /// Size of the frames produced (scaled from `capture` if different).
    output: (u32, u32),
    /// Reused buffer for the scaled BGRX picture.
    scaled: Vec<u8>,
}

impl std::fmt::Debug for ScreenCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenCapture")
            .field("root", &self.root)
            .field("capture", &self.capture)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

fn capture_err(context: &str, e: impl std::fmt::Display) -> MediaError {
    MediaError::ScreenCapture(format!("{context}: {e}"))
}

impl ScreenCapture {
    /// Connects to `display` (e.g. `":0"`; `None` means `$DISPLAY`). Frames have the
    /// root window's size, rounded down to even width and height.
    pub fn open(display: Option<&str>) -> Result<Self, MediaError> {
        let (conn, screen_num) = x11rb::connect(display).map_err(|e| {
            capture_err(
                &format!(
                    "cannot connect to X display {}",
                    display.unwrap_or("$DISPLAY")
                ),
                e,
            )
        })?;
        let setup = conn.setup();
        let screen = setup
            .roots
            .get(screen_num)
            .ok_or_else(|| MediaError::ScreenCapture(format!("no screen {screen_num}")))?;
        if screen.root_depth != 24 && screen.root_depth != 32 {
            return Err(MediaError::ScreenCapture(format!(
                "root depth {} unsupported (need 24 or 32)",
                screen.root_depth
            )));
        }
        let bpp = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == screen.root_depth)
            .map(|f| f.bits_per_pixel);
        if bpp != Some(32) || setup.image_byte_order != ImageOrder::LSB_FIRST {
            return Err(MediaError::ScreenCapture(
                "only 32 bits per pixel, LSB-first images are supported".into(),
            ));
        }
        let capture = (screen.width_in_pixels & !1, screen.height_in_pixels & !1);
        let root = screen.root;
        let output = (u32::from(capture.0), u32::from(capture.1));
        check_dimensions(output.0, output.1)?;
        tracing::debug!(?capture, "X11 screen capture opened");
        Ok(Self {
            conn,
            root,
            capture,
            output,
            scaled: Vec::new(),
        })
    }

    /// Produces frames of `width`x`height` (even) instead, scaling the screen with
    /// nearest-neighbour sampling (aspect ratio is not preserved).
    pub fn scaled_to(mut self, width: u32, height: u32) -> Result<Self, MediaError> {
        check_dimensions(width, height)?;
        self.output = (width, height);
        Ok(self)
    }

    /// The size of the captured screen area (before scaling).
    pub fn screen_size(&self) -> (u32, u32) {
        (u32::from(self.capture.0), u32::from(self.capture.1))
    }

    /// Grabs the screen now as an I420 frame stamped with the current time.
    pub fn capture(&mut self) -> Result<Frame, MediaError> {
        let captured_at = unix_time_us();
        let (cw, ch) = self.capture;
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, 0, 0, cw, ch, !0)
            .map_err(|e| capture_err("GetImage request", e))?
            .reply()
            .map_err(|e| capture_err("GetImage reply", e))?;
        let (cw, ch) = (usize::from(cw), usize::from(ch));
        let stride = cw * 4;
        if reply.data.len() < stride * ch {
            return Err(MediaError::ScreenCapture(format!(
                "GetImage returned {} bytes for {cw}x{ch}",
                reply.data.len()
            )));
        }
        let (ow, oh) = self.output;
        let mut frame = if (ow as usize, oh as usize) == (cw, ch) {
            bgra_to_i420(&reply.data, stride, ow, oh)?
        } else {
            self.scale(&reply.data, cw, ch);
            bgra_to_i420(&self.scaled, ow as usize * 4, ow, oh)?
        };
        frame.set_capture_time_us(captured_at);
        Ok(frame)
    }

    fn scale(&mut self, src: &[u8], sw: usize, sh: usize) {
        let (ow, oh) = (self.output.0 as usize, self.output.1 as usize);
        self.scaled.resize(ow * oh * 4, 0);
        let xs: Vec<usize> = (0..ow).map(|x| x * sw / ow).collect();
        for (y, row) in self.scaled.chunks_exact_mut(ow * 4).enumerate() {
            let src_row = &src[(y * sh / oh) * sw * 4..];
            for (px, &sx) in row.chunks_exact_mut(4).zip(&xs) {
                px.copy_from_slice(&src_row[sx * 4..sx * 4 + 4]);
            }
        }
    }
}

impl VideoSource for ScreenCapture {
    fn next_frame(&mut self) -> Result<Frame, MediaError> {
        self.capture()
    }

    fn size(&self) -> (u32, u32) {
        self.output
    }
}
