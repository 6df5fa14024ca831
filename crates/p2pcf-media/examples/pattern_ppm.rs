//! Writes one test-pattern frame, after an H264 round trip, as a PPM image.
//!
//! `cargo run -p p2pcf-media --example pattern_ppm -- out.ppm [width height]`

use p2pcf_media::{EncoderSettings, H264Decoder, H264Encoder, TestPattern};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).map_or("pattern.ppm", String::as_str);
    let width: u32 = args.get(2).map_or(Ok(1280), |s| s.parse())?;
    let height: u32 = args.get(3).map_or(Ok(720), |s| s.parse())?;
    let mut pattern = TestPattern::new(width, height)?;
    let mut encoder = H264Encoder::new(EncoderSettings {
        width,
        height,
        fps: 30,
        bitrate_bps: 2_000_000,
    })?;
    let mut decoder = H264Decoder::new()?;
    let mut last = None;
    for n in 0..45u64 {
        let au = encoder.encode(&pattern.next_frame(p2pcf_media::unix_time_us() + n))?;
        last = decoder.decode(&au)?.or(last);
    }
    let frame = last.ok_or_else(|| anyhow::anyhow!("no picture decoded"))?;
    let mut ppm = format!("P6\n{} {}\n255\n", frame.width, frame.height).into_bytes();
    for px in frame.rgba.chunks_exact(4) {
        ppm.extend_from_slice(&px[..3]);
    }
    std::fs::write(out, ppm)?;
    Ok(())
}
