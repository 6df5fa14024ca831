//! Encode benchmark: 10 s of 30 fps test pattern at 640x480 and 1280x720.
//!
//! Run: `cargo bench -p p2pcf-media --bench encode`. Prints per-frame encode
//! wall time (p50/p99) and the encoder's CPU time as a share of one core when
//! running at 30 fps. Frames are rendered before timing so only encoding is
//! measured; CPU time is the process's utime+stime from /proc/self/stat.

use std::time::Instant;

use p2pcf_media::{i420_to_rgba, rgba_to_i420, EncoderSettings, H264Encoder, TestPattern};

const FPS: u32 = 30;
const SECONDS: u32 = 10;

/// Process CPU time (user + system) in seconds, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // fields[0] is field 3 (state), so field n is fields[n - 3].
    let total = ticks(14 - 3) + ticks(15 - 3);
    // Linux reports in USER_HZ, which is 100 on every mainstream platform.
    total as f64 / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn bench(width: u32, height: u32, bitrate_bps: u32) {
    let frames = FPS * SECONDS;
    let mut pattern = TestPattern::new(width, height).expect("pattern");
    let input: Vec<_> = (0..frames)
        .map(|n| pattern.next_frame(u64::from(n) * 33_333))
        .collect();
    let mut encoder = H264Encoder::new(EncoderSettings {
        width,
        height,
        fps: FPS,
        bitrate_bps,
    })
    .expect("encoder");
    let mut times_ms = Vec::with_capacity(input.len());
    let mut bytes = 0usize;
    let cpu_start = cpu_seconds();
    let wall_start = Instant::now();
    for frame in &input {
        let t = Instant::now();
        bytes += encoder.encode(frame).expect("encode").len();
        times_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let wall = wall_start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_start;
    times_ms.sort_by(f64::total_cmp);
    let video_seconds = f64::from(frames) / f64::from(FPS);
    println!(
        "{width}x{height} @ {} kbit/s target: {frames} frames, encode ms/frame p50 {:.2} p99 {:.2} max {:.2}; \
         wall {:.2} s, cpu {:.2} s; encoder CPU % of one core at 30 fps: {:.1}%; output {:.0} kbit/s",
        bitrate_bps / 1000,
        percentile(&times_ms, 0.5),
        percentile(&times_ms, 0.99),
        times_ms.last().copied().unwrap_or(0.0),
        wall,
        cpu,
        100.0 * cpu / video_seconds,
        bytes as f64 * 8.0 / video_seconds / 1000.0,
    );
}

fn bench_conversion(width: u32, height: u32) {
    let frame = TestPattern::new(width, height)
        .expect("pattern")
        .next_frame(0);
    let mut rgba = vec![0u8; width as usize * height as usize * 4];
    let rounds = 50;
    let t = Instant::now();
    for _ in 0..rounds {
        i420_to_rgba(&frame.planes(), &mut rgba).expect("convert");
    }
    let to_rgba = t.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(rgba_to_i420(&rgba, width, height).expect("convert"));
    }
    let to_i420 = t.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
    println!(
        "{width}x{height} conversion: i420_to_rgba {to_rgba:.2} ms, rgba_to_i420 {to_i420:.2} ms"
    );
}

fn main() {
    bench_conversion(1280, 720);
    bench(640, 480, 1_000_000);
    bench(1280, 720, 2_500_000);
}
