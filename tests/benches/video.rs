//! Video benchmark (run in release: `cargo bench -p p2pcf-tests --bench video`).
//!
//! Two Rust clients in one room through our in-process server on loopback. Alice shares the
//! stamped test pattern at 30 fps offered (H.264, OpenH264); Bob decodes. For 640×480 and
//! 1280×720, over `BENCH_SECONDS` (default 10) after a 2 s warm-up:
//! - delivered fps: decoded frames carrying a readable stamp per second;
//! - capture → decode latency, from the capture time drawn into each frame (p50 / p95 / max);
//! - encoder CPU: CPU time of the encoder thread inside `encode`, as % of one core;
//! - frames lost: gaps in the stamped frame numbers.
//!
//! Prints a Markdown table.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use p2pcf_client::ClientEvent;
use p2pcf_media::{read_stamp, unix_time_us, TestPattern};
use p2pcf_server::ServerConfig;
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::server::TestServer;
use p2pcf_video::{ReceiverEvent, SendSettings, VideoReceiver, VideoSender};
use tokio::sync::mpsc;

const CONNECT: Duration = Duration::from_secs(30);
const WARM_UP: Duration = Duration::from_secs(2);

struct Row {
    size: (u32, u32),
    bitrate_kbps: u32,
    fps: f64,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    cpu_percent: f64,
    lost: u64,
    kbps_out: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn measure(
    url: &str,
    width: u32,
    height: u32,
    bitrate_kbps: u32,
    seconds: u64,
) -> anyhow::Result<Row> {
    let room = format!("bench-video-{:08x}", rand::random::<u32>());
    let mut alice = RustPeer::join(url, &room, "alice").await?;
    let mut bob = RustPeer::join(url, &room, "bobby").await?;
    alice.connected(1, CONNECT).await?;
    bob.connected(1, CONNECT).await?;

    let sender = VideoSender::start(
        "bench",
        Box::new(TestPattern::new(width, height)?),
        SendSettings {
            fps: 30,
            bitrate_bps: bitrate_kbps * 1000,
        },
    )?;
    alice.handle.add_track(sender.track()).await?;
    let deadline = Instant::now() + CONNECT;
    let track = loop {
        if let ClientEvent::TrackStarted { track, .. } = bob.next_event(deadline, "a track").await?
        {
            break track;
        }
    };
    let (frames_tx, mut frames) = mpsc::channel(64);
    let _receiver = VideoReceiver::start(track, frames_tx);
    let mut alice_events = alice.events;
    let mut keyframe_requests = 0u32;

    let warm_until = Instant::now() + WARM_UP;
    let mut measuring: Option<(Instant, p2pcf_video::SenderStats)> = None;
    let mut latencies = Vec::new();
    let mut numbers = Vec::new();
    loop {
        if let Some((started, _)) = measuring {
            if started.elapsed() >= Duration::from_secs(seconds) {
                break;
            }
        } else if Instant::now() >= warm_until {
            measuring = Some((Instant::now(), sender.stats()));
        }
        tokio::select! {
            Some(event) = alice_events.recv() => {
                if let ClientEvent::KeyframeRequested { .. } = event {
                    keyframe_requests += 1;
                    sender.request_keyframe();
                }
            }
            event = tokio::time::timeout(Duration::from_secs(5), frames.recv()) => {
                match event.context("no frame for 5 s")? {
                    Some(ReceiverEvent::Frame(frame)) => {
                        let Some(stamp) = read_stamp(&frame.rgba, frame.width, frame.height) else {
                            continue;
                        };
                        if measuring.is_some() {
                            latencies.push(
                                unix_time_us().saturating_sub(stamp.capture_time_us) as f64 / 1000.0,
                            );
                            numbers.push(stamp.frame_number);
                        }
                    }
                    Some(ReceiverEvent::Ended) | None => bail!("the track ended"),
                }
            }
        }
    }
    let Some((started, before)) = measuring else {
        bail!("never measured");
    };
    let elapsed = started.elapsed().as_secs_f64();
    let after = sender.stop();
    if latencies.is_empty() {
        bail!("no stamped frame decoded");
    }
    latencies.sort_by(f64::total_cmp);
    let span = u64::from(numbers[numbers.len() - 1] - numbers[0]) + 1;
    let cpu = (after.encode_cpu - before.encode_cpu).as_secs_f64();
    let wall = (after.elapsed - before.elapsed).as_secs_f64();
    eprintln!("{width}x{height}: {keyframe_requests} key-frame requests");
    bob.handle.leave().await;
    alice.handle.leave().await;
    Ok(Row {
        size: (width, height),
        bitrate_kbps,
        fps: numbers.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.5),
        p95_ms: percentile(&latencies, 0.95),
        max_ms: percentile(&latencies, 1.0),
        cpu_percent: 100.0 * cpu / wall,
        lost: span.saturating_sub(numbers.len() as u64),
        kbps_out: (after.bytes - before.bytes) as f64 * 8.0 / 1000.0 / wall,
    })
}

fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = TestServer::start(ServerConfig::default()).await?;
        let mut rows = Vec::new();
        for (w, h, kbps) in [(640, 480, 1500), (1280, 720, 2500)] {
            rows.push(measure(&server.url, w, h, kbps, seconds).await?);
        }
        println!("| size | target | delivered fps (30 offered) | latency p50 / p95 / max | encoder CPU (% of one core) | frames lost | encoded kbit/s |");
        println!("|---|---|---|---|---|---|---|");
        for r in rows {
            println!(
                "| {}×{} | {} kbit/s | {:.1} | {:.0} / {:.0} / {:.0} ms | {:.0} % | {} | {:.0} |",
                r.size.0, r.size.1, r.bitrate_kbps, r.fps, r.p50_ms, r.p95_ms, r.max_ms, r.cpu_percent, r.lost, r.kbps_out
            );
        }
        anyhow::Ok(())
    })
}
