//! Raw video frames (I420) and conversion to and from packed RGBA/BGRA.
//!
//! Colour math is BT.601 limited range ("studio swing": Y 16..=235), which is what
//! an H264 decoder assumes when the stream carries no colour description. Integer
//! fixed-point, two rows at a time, no allocation per pixel.

use crate::MediaError;

/// Largest width or height accepted (OpenH264 stops at 3840x2160 anyway).
pub const MAX_DIMENSION: u32 = 8192;

/// One uncompressed picture in I420 (planar Y, then U and V at half resolution).
///
/// Invariant: width and height are even and non-zero, and `data` holds exactly
/// `width*height*3/2` bytes with tightly packed planes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    width: u32,
    height: u32,
    data: Vec<u8>,
    capture_time_us: u64,
}

/// Borrowed I420 planes with explicit strides (as decoders hand them out).
#[derive(Clone, Copy, Debug)]
pub struct I420Planes<'a> {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Luma plane, `y_stride` bytes per row.
    pub y: &'a [u8],
    /// Bytes per luma row (≥ width).
    pub y_stride: usize,
    /// Cb plane, `u_stride` bytes per row, height/2 rows.
    pub u: &'a [u8],
    /// Bytes per Cb row (≥ width/2).
    pub u_stride: usize,
    /// Cr plane, `v_stride` bytes per row, height/2 rows.
    pub v: &'a [u8],
    /// Bytes per Cr row (≥ width/2).
    pub v_stride: usize,
}

/// Checks that a size can be an I420 frame.
pub fn check_dimensions(width: u32, height: u32) -> Result<(), MediaError> {
    let reason = if width == 0 || height == 0 {
        "width and height must be non-zero"
    } else if width % 2 != 0 || height % 2 != 0 {
        "width and height must be even"
    } else if width > MAX_DIMENSION || height > MAX_DIMENSION {
        "larger than 8192 pixels"
    } else {
        return Ok(());
    };
    Err(MediaError::InvalidDimensions {
        width,
        height,
        reason,
    })
}

fn i420_len(width: u32, height: u32) -> usize {
    let luma = width as usize * height as usize;
    luma + luma / 2
}

impl Frame {
    /// A black frame of the given (even) size.
    pub fn new(width: u32, height: u32) -> Result<Self, MediaError> {
        check_dimensions(width, height)?;
        Ok(Self::black(width, height))
    }

    /// A black frame; the caller has checked the size.
    pub(crate) fn black(width: u32, height: u32) -> Self {
        let luma = width as usize * height as usize;
        let mut data = vec![16u8; i420_len(width, height)];
        data[luma..].fill(128);
        Self {
            width,
            height,
            data,
            capture_time_us: 0,
        }
    }

    /// Wraps tightly packed I420 bytes (Y plane, then U, then V).
    pub fn from_i420(
        width: u32,
        height: u32,
        data: Vec<u8>,
        capture_time_us: u64,
    ) -> Result<Self, MediaError> {
        check_dimensions(width, height)?;
        let expected = i420_len(width, height);
        if data.len() != expected {
            return Err(MediaError::BufferSize {
                expected,
                actual: data.len(),
            });
        }
        Ok(Self {
            width,
            height,
            data,
            capture_time_us,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// When the frame was captured, unix microseconds (0 if unknown).
    pub fn capture_time_us(&self) -> u64 {
        self.capture_time_us
    }

    /// Sets the capture time (unix microseconds).
    pub fn set_capture_time_us(&mut self, capture_time_us: u64) {
        self.capture_time_us = capture_time_us;
    }

    /// All I420 bytes: Y plane, then U, then V.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Consumes the frame, returning its I420 bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    fn luma_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// The luma plane (stride = width).
    pub fn y(&self) -> &[u8] {
        &self.data[..self.luma_len()]
    }

    /// The Cb plane (stride = width/2).
    pub fn u(&self) -> &[u8] {
        let l = self.luma_len();
        &self.data[l..l + l / 4]
    }

    /// The Cr plane (stride = width/2).
    pub fn v(&self) -> &[u8] {
        let l = self.luma_len();
        &self.data[l + l / 4..]
    }

    /// Mutable Y, U and V planes at once.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let l = self.luma_len();
        let (y, chroma) = self.data.split_at_mut(l);
        let (u, v) = chroma.split_at_mut(l / 4);
        (y, u, v)
    }

    /// Borrowed planes with their strides.
    pub fn planes(&self) -> I420Planes<'_> {
        let half = self.width as usize / 2;
        I420Planes {
            width: self.width,
            height: self.height,
            y: self.y(),
            y_stride: self.width as usize,
            u: self.u(),
            u_stride: half,
            v: self.v(),
            v_stride: half,
        }
    }

    /// Converts to packed RGBA (alpha 255), `width*height*4` bytes.
    pub fn to_rgba(&self) -> Vec<u8> {
        let mut rgba = vec![0u8; self.luma_len() * 4];
        // The invariant guarantees plane sizes, so this cannot fail.
        let _ = i420_to_rgba(&self.planes(), &mut rgba);
        rgba
    }
}

#[inline(always)]
fn clamp_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

fn check_plane(plane: &[u8], stride: usize, row_len: usize, rows: usize) -> Result<(), MediaError> {
    if stride < row_len {
        return Err(MediaError::BufferSize {
            expected: row_len,
            actual: stride,
        });
    }
    let expected = stride * (rows - 1) + row_len;
    if plane.len() < expected {
        return Err(MediaError::BufferSize {
            expected,
            actual: plane.len(),
        });
    }
    Ok(())
}

/// Converts I420 planes to packed RGBA (`width*height*4` bytes, alpha 255).
pub fn i420_to_rgba(src: &I420Planes<'_>, rgba: &mut [u8]) -> Result<(), MediaError> {
    check_dimensions(src.width, src.height)?;
    let (w, h) = (src.width as usize, src.height as usize);
    check_plane(src.y, src.y_stride, w, h)?;
    check_plane(src.u, src.u_stride, w / 2, h / 2)?;
    check_plane(src.v, src.v_stride, w / 2, h / 2)?;
    if rgba.len() != w * h * 4 {
        return Err(MediaError::BufferSize {
            expected: w * h * 4,
            actual: rgba.len(),
        });
    }
    for (row, out_row) in rgba.chunks_exact_mut(w * 4).enumerate() {
        let y_row = &src.y[row * src.y_stride..row * src.y_stride + w];
        let c = (row / 2) * src.u_stride;
        let u_row = &src.u[c..c + w / 2];
        let c = (row / 2) * src.v_stride;
        let v_row = &src.v[c..c + w / 2];
        for (((out, y2), &u), &v) in out_row
            .chunks_exact_mut(8)
            .zip(y_row.chunks_exact(2))
            .zip(u_row)
            .zip(v_row)
        {
            let d = i32::from(u) - 128;
            let e = i32::from(v) - 128;
            let r_add = 409 * e + 128;
            let g_add = -100 * d - 208 * e + 128;
            let b_add = 516 * d + 128;
            for (px, &y) in out.chunks_exact_mut(4).zip(y2) {
                let c = 298 * (i32::from(y) - 16);
                px[0] = clamp_u8((c + r_add) >> 8);
                px[1] = clamp_u8((c + g_add) >> 8);
                px[2] = clamp_u8((c + b_add) >> 8);
                px[3] = 255;
            }
        }
    }
    Ok(())
}

/// Converts packed RGBA (`width*height*4` bytes, alpha ignored) to an I420 frame.
pub fn rgba_to_i420(rgba: &[u8], width: u32, height: u32) -> Result<Frame, MediaError> {
    packed_to_i420(rgba, width as usize * 4, width, height, [0, 1, 2])
}

/// Converts packed BGRA/BGRX rows (as X11 ZPixmap delivers at depth 24/32) to I420.
///
/// `stride` is the number of bytes per source row (≥ `width*4`).
pub fn bgra_to_i420(
    bgra: &[u8],
    stride: usize,
    width: u32,
    height: u32,
) -> Result<Frame, MediaError> {
    packed_to_i420(bgra, stride, width, height, [2, 1, 0])
}

/// `order` gives the byte offsets of R, G and B inside each 4-byte pixel.
fn packed_to_i420(
    src: &[u8],
    stride: usize,
    width: u32,
    height: u32,
    order: [usize; 3],
) -> Result<Frame, MediaError> {
    let mut frame = Frame::new(width, height)?;
    let (w, h) = (width as usize, height as usize);
    check_plane(src, stride, w * 4, h)?;
    let [ri, gi, bi] = order;
    let (y_plane, u_plane, v_plane) = frame.planes_mut();
    let rows = y_plane
        .chunks_exact_mut(2 * w)
        .zip(u_plane.chunks_exact_mut(w / 2))
        .zip(v_plane.chunks_exact_mut(w / 2))
        .enumerate();
    for (pair, ((y_pair, u_row), v_row)) in rows {
        let top = &src[2 * pair * stride..2 * pair * stride + w * 4];
        let bottom = &src[(2 * pair + 1) * stride..(2 * pair + 1) * stride + w * 4];
        let (y_top, y_bottom) = y_pair.split_at_mut(w);
        let cells = top
            .chunks_exact(8)
            .zip(bottom.chunks_exact(8))
            .zip(y_top.chunks_exact_mut(2))
            .zip(y_bottom.chunks_exact_mut(2))
            .zip(u_row.iter_mut())
            .zip(v_row.iter_mut());
        for (((((t, b), yt), yb), u), v) in cells {
            let (mut rs, mut gs, mut bs) = (0i32, 0i32, 0i32);
            for (px, y) in t
                .chunks_exact(4)
                .chain(b.chunks_exact(4))
                .zip(yt.iter_mut().chain(yb.iter_mut()))
            {
                let (r, g, bl) = (i32::from(px[ri]), i32::from(px[gi]), i32::from(px[bi]));
                *y = (((66 * r + 129 * g + 25 * bl + 128) >> 8) + 16) as u8;
                rs += r;
                gs += g;
                bs += bl;
            }
            // Average of the 2x2 block (sums are 4x); the +512 rounds the >>10.
            *u = clamp_u8(((-38 * rs - 74 * gs + 112 * bs + 512) >> 10) + 128);
            *v = clamp_u8(((112 * rs - 94 * gs - 18 * bs + 512) >> 10) + 128);
        }
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_or_zero_sizes_are_refused() {
        assert!(Frame::new(0, 10).is_err());
        assert!(Frame::new(11, 10).is_err());
        assert!(Frame::new(10, 9).is_err());
        assert!(Frame::new(10, 10).is_ok());
    }

    #[test]
    fn wrong_buffer_lengths_are_errors_not_panics() {
        assert!(rgba_to_i420(&[0u8; 10], 4, 4).is_err());
        assert!(Frame::from_i420(4, 4, vec![0; 23], 0).is_err());
        let f = Frame::new(4, 4).expect("frame");
        assert!(i420_to_rgba(&f.planes(), &mut [0u8; 63]).is_err());
    }

    #[test]
    fn primaries_convert_to_expected_studio_swing_values() {
        let mut rgba = Vec::new();
        for _ in 0..4 {
            rgba.extend_from_slice(&[255, 255, 255, 255]);
        }
        let f = rgba_to_i420(&rgba, 2, 2).expect("convert");
        assert_eq!(f.y(), &[235; 4]);
        assert_eq!(f.u(), &[128]);
        let back = f.to_rgba();
        assert!(back.iter().all(|&c| c >= 254), "{back:?}");
    }
}
