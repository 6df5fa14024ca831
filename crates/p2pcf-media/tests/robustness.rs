//! The decoder survives hostile input; pixel conversion round trips within tolerance.

use p2pcf_media::{
    i420_to_rgba, nal_units, read_stamp, rgba_to_i420, EncoderSettings, H264Decoder, H264Encoder,
    TestPattern,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn encoded_stream(frames: u32) -> Vec<Vec<u8>> {
    let mut pattern = TestPattern::new(320, 240).expect("pattern");
    let mut encoder = H264Encoder::new(EncoderSettings {
        width: 320,
        height: 240,
        fps: 30,
        bitrate_bps: 300_000,
    })
    .expect("encoder");
    (0..frames)
        .map(|n| {
            encoder
                .encode(&pattern.next_frame(u64::from(n)))
                .expect("encode")
        })
        .collect()
}

#[test]
fn decoder_returns_errors_not_panics_on_garbage_and_recovers_at_the_next_idr() {
    let mut rng = StdRng::seed_from_u64(0x5EED);
    let stream = encoded_stream(10);
    let mut decoder = H264Decoder::new().expect("decoder");
    let mut errors = 0;
    for round in 0..400 {
        let input: Vec<u8> = match round % 4 {
            // Pure noise.
            0 => (0..rng.gen_range(0..4096)).map(|_| rng.gen()).collect(),
            // Noise behind a start code and a plausible NAL header (SPS/PPS/IDR/slice).
            1 => {
                let mut v = vec![0, 0, 0, 1, [0x67, 0x68, 0x65, 0x41][rng.gen_range(0..4)]];
                v.extend((0..rng.gen_range(0..2048)).map(|_| rng.gen::<u8>()));
                v
            }
            // A real access unit cut short.
            2 => {
                let au = &stream[rng.gen_range(0..stream.len())];
                au[..rng.gen_range(0..au.len())].to_vec()
            }
            // A real access unit with bytes flipped.
            _ => {
                let mut au = stream[rng.gen_range(0..stream.len())].clone();
                for _ in 0..rng.gen_range(1..16) {
                    let i = rng.gen_range(0..au.len());
                    au[i] ^= rng.gen::<u8>() | 1;
                }
                au
            }
        };
        match decoder.decode(&input) {
            Ok(Some(frame)) => assert_eq!(
                frame.rgba.len(),
                frame.width as usize * frame.height as usize * 4
            ),
            Ok(None) => {}
            Err(_) => errors += 1,
        }
    }
    assert!(errors > 0, "400 hostile inputs and not one error");
    // A fresh stream's IDR (with SPS/PPS) decodes correctly after all that.
    let fresh = encoded_stream(1);
    let frame = decoder
        .decode(&fresh[0])
        .expect("decode IDR")
        .expect("picture");
    let stamp = read_stamp(&frame.rgba, frame.width, frame.height).expect("stamp");
    assert_eq!(stamp.frame_number, 0);
}

#[test]
fn decoder_handles_empty_and_header_only_input() {
    let mut decoder = H264Decoder::new().expect("decoder");
    assert_eq!(decoder.decode(&[]).expect("empty"), None);
    let first = &encoded_stream(1)[0];
    let units = nal_units(first);
    let mut headers = Vec::new();
    for nal in &units[..2] {
        headers.extend_from_slice(&[0, 0, 0, 1]);
        headers.extend_from_slice(nal);
    }
    assert!(decoder.decode(&headers).expect("SPS+PPS").is_none());
}

#[test]
fn rgba_i420_round_trip_stays_within_tolerance() {
    let mut rng = StdRng::seed_from_u64(7);
    let (w, h) = (64usize, 48usize);
    // Colour constant over each 2x2 block, so chroma subsampling loses nothing.
    let mut rgba = vec![0u8; w * h * 4];
    for by in 0..h / 2 {
        for bx in 0..w / 2 {
            let c: [u8; 3] = [rng.gen(), rng.gen(), rng.gen()];
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let i = ((2 * by + dy) * w + 2 * bx + dx) * 4;
                rgba[i..i + 3].copy_from_slice(&c);
                rgba[i + 3] = 255;
            }
        }
    }
    let frame = rgba_to_i420(&rgba, w as u32, h as u32).expect("to i420");
    let mut back = vec![0u8; w * h * 4];
    i420_to_rgba(&frame.planes(), &mut back).expect("to rgba");
    let worst = rgba
        .iter()
        .zip(&back)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    assert!(worst <= 4, "max channel error {worst}");

    // And the other way: in-gamut I420 → RGBA → I420 keeps luma within 2.
    // (Arbitrary YUV triples can fall outside RGB and get clipped, so start from RGB.)
    let again = rgba_to_i420(&back, w as u32, h as u32).expect("to i420");
    let worst_y = frame
        .y()
        .iter()
        .zip(again.y())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    assert!(worst_y <= 2, "max luma error {worst_y}");
}
