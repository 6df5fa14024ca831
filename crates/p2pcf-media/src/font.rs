//! A tiny built-in 5x7 bitmap font, enough for stamp text (digits and a few symbols).

/// Glyph rows, top to bottom; bit 4 is the leftmost pixel.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'u' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D],
        's' => [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        _ => [0; 7],
    }
}

/// Glyph cell width (5 pixels plus 1 spacing) in unscaled pixels.
pub const CELL_W: usize = 6;
/// Glyph height in unscaled pixels.
pub const CELL_H: usize = 7;

/// Draws `text` into a luma plane at (x, y), each font pixel a `scale`x`scale` square.
/// Pixels outside the plane are clipped.
pub fn draw_text(
    plane: &mut [u8],
    stride: usize,
    height: usize,
    (x, y): (usize, usize),
    scale: usize,
    text: &str,
    luma: u8,
) {
    for (i, c) in text.chars().enumerate() {
        let gx = x + i * CELL_W * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                let (px, py) = (gx + col * scale, y + row * scale);
                for yy in py..(py + scale).min(height) {
                    let end = (px + scale).min(stride);
                    if px < end {
                        plane[yy * stride + px..yy * stride + end].fill(luma);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_have_distinct_glyphs() {
        let glyphs: Vec<[u8; 7]> = ('0'..='9').map(glyph).collect();
        for (i, a) in glyphs.iter().enumerate() {
            assert!(a.iter().any(|&r| r != 0));
            for b in &glyphs[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn text_is_clipped_at_the_plane_edge() {
        let mut plane = vec![0u8; 20 * 10];
        draw_text(&mut plane, 20, 10, (15, 5), 2, "88", 255);
        assert!(plane.contains(&255));
    }
}
