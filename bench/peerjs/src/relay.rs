//! (b) Relay: clients in pairs send each other ~1 KB `OFFER`/`CANDIDATE` frames as fast as the
//! server relays them, each direction with at most `window` frames in flight (so latency is the
//! server's, not a queue we built). Every frame carries its sequence number and send time; the
//! receiver checks `src`, order and counts, so nothing lost or reordered goes unnoticed.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;

use crate::hold::{open_client, source};
use crate::servers::{self, Server};
use crate::stats::Summary;
use crate::ws;

/// Filler so that one relayed JSON text is about 1 KB.
const PAD: usize = 880;
/// How long receivers wait for the frames still in flight when the senders stop.
const DRAIN: Duration = Duration::from_secs(10);

pub struct RelayConfig {
    pub pairs: usize,
    pub window: u64,
    pub duration: Duration,
    pub octet: u8,
}

#[derive(Default)]
pub struct RelayResult {
    pub sent: u64,
    pub received: u64,
    pub received_in_window: u64,
    pub window_secs: f64,
    pub latency: Summary,
    pub out_of_order: u64,
    pub foreign: u64,
    pub first_foreign: Option<String>,
    pub errors: Vec<String>,
    pub frame_bytes: usize,
    pub server_cpu: Duration,
    pub generator_cpu: Duration,
}

impl RelayResult {
    pub fn rate(&self) -> f64 {
        self.received_in_window as f64 / self.window_secs.max(1e-9)
    }

    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
}

/// One direction of a pair.
struct Dir {
    received: AtomicU64,
    sent_final: AtomicU64,
    notify: Notify,
}

#[derive(Deserialize)]
struct Relayed<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    src: Option<Cow<'a, str>>,
    payload: Option<Stamp>,
}

#[derive(Deserialize)]
struct Stamp {
    seq: u64,
    t: u64,
}

#[derive(Default)]
struct RecvStats {
    latencies: Vec<u64>,
    in_window: u64,
    out_of_order: u64,
    foreign: u64,
    first_foreign: Option<String>,
    error: Option<String>,
}

fn frame_json(out: &mut String, dst: &str, seq: u64, t: u64, pad: &str) {
    out.clear();
    if seq % 2 == 0 {
        let _ = write!(
            out,
            r#"{{"type":"OFFER","dst":"{dst}","payload":{{"type":"data","connectionId":"dc_bench0001","seq":{seq},"t":{t},"sdp":{{"type":"offer","sdp":"{pad}"}},"serialization":"binary","reliable":true}}}}"#
        );
    } else {
        let _ = write!(
            out,
            r#"{{"type":"CANDIDATE","dst":"{dst}","payload":{{"type":"data","connectionId":"dc_bench0001","seq":{seq},"t":{t},"candidate":{{"candidate":"{pad}","sdpMid":"0","sdpMLineIndex":0}}}}}}"#
        );
    }
}

#[allow(clippy::too_many_arguments)]
async fn sender(
    mut wh: OwnedWriteHalf,
    dst: String,
    dir: Arc<Dir>,
    base: Instant,
    start: Instant,
    deadline: Instant,
    window: u64,
) -> (u64, Option<String>, OwnedWriteHalf) {
    tokio::time::sleep_until(start.into()).await;
    let mut sent = 0u64;
    let mut buf = Vec::with_capacity(window as usize * (PAD + 300));
    let mut json = String::with_capacity(PAD + 300);
    let mut error = None;
    let pad = "x".repeat(PAD);
    while Instant::now() < deadline {
        let outstanding = sent - dir.received.load(Ordering::Acquire);
        if outstanding * 2 > window {
            tokio::select! {
                _ = dir.notify.notified() => {}
                _ = tokio::time::sleep_until(deadline.into()) => break,
            }
            continue;
        }
        let now = base.elapsed().as_nanos() as u64;
        buf.clear();
        for seq in sent..sent + (window - outstanding) {
            frame_json(&mut json, &dst, seq, now, &pad);
            ws::encode_text(&mut buf, json.as_bytes());
        }
        if let Err(e) = wh.write_all(&buf).await {
            error = Some(format!("write: {e}"));
            break;
        }
        sent += window - outstanding;
    }
    dir.sent_final.store(sent, Ordering::Release);
    // The write half goes back to the caller: dropping it shuts the socket down for writing,
    // and a server closes the whole WebSocket on that, while frames may still be on their way
    // to this client in the other direction.
    (sent, error, wh)
}

async fn receiver(
    mut rh: OwnedReadHalf,
    mut reader: ws::FrameReader,
    expected_src: String,
    dir: Arc<Dir>,
    base: Instant,
    deadline: Instant,
) -> RecvStats {
    let mut stats = RecvStats::default();
    if let Err(e) = receive(
        &mut rh,
        &mut reader,
        &expected_src,
        &dir,
        base,
        deadline,
        &mut stats,
    )
    .await
    {
        stats.error = Some(format!("{e:#}"));
    }
    stats
}

async fn receive(
    rh: &mut OwnedReadHalf,
    reader: &mut ws::FrameReader,
    expected_src: &str,
    dir: &Dir,
    base: Instant,
    deadline: Instant,
    stats: &mut RecvStats,
) -> anyhow::Result<()> {
    let mut next_seq = 0u64;
    let drain_deadline = deadline + DRAIN;
    loop {
        while let Some((op, range)) = reader.next_frame()? {
            let bytes = reader.bytes(range);
            match op {
                ws::OP_TEXT | ws::OP_BINARY => {}
                ws::OP_CLOSE => anyhow::bail!("server closed the WebSocket"),
                _ => continue,
            }
            let msg: Relayed = serde_json::from_slice(bytes)
                .with_context(|| format!("bad frame {}", String::from_utf8_lossy(bytes)))?;
            let stamp = match (&*msg.kind, msg.src.as_deref(), msg.payload) {
                ("OFFER" | "CANDIDATE", Some(src), Some(stamp)) if src == expected_src => stamp,
                _ => {
                    stats.foreign += 1;
                    if stats.first_foreign.is_none() {
                        let text = String::from_utf8_lossy(bytes);
                        stats.first_foreign = Some(text.chars().take(200).collect());
                    }
                    continue;
                }
            };
            let now = base.elapsed().as_nanos() as u64;
            stats.latencies.push(now.saturating_sub(stamp.t) / 1000);
            if stamp.seq != next_seq {
                stats.out_of_order += 1;
            }
            next_seq = stamp.seq + 1;
            if Instant::now() < deadline {
                stats.in_window += 1;
            }
            dir.received.fetch_add(1, Ordering::AcqRel);
            dir.notify.notify_one();
        }
        if dir.received.load(Ordering::Acquire) >= dir.sent_final.load(Ordering::Acquire) {
            return Ok(());
        }
        match tokio::time::timeout(Duration::from_millis(100), reader.fill(rh)).await {
            Ok(Ok(0)) => anyhow::bail!("connection closed"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) if Instant::now() > drain_deadline => {
                anyhow::bail!(
                    "frames still missing {} s after the senders stopped",
                    DRAIN.as_secs()
                )
            }
            Err(_) => {}
        }
    }
}

pub async fn run(server: &mut Server, config: &RelayConfig) -> anyhow::Result<RelayResult> {
    let tag = rand::random::<u32>();
    let mut clients = Vec::new();
    for i in 0..config.pairs * 2 {
        let id = format!("r{tag:08x}p{}{}", i / 2, if i % 2 == 0 { "a" } else { "b" });
        let token = format!("t{:x}", rand::random::<u64>());
        let (stream, reader) = open_client(source(config.octet, i), server.addr, &id, &token)
            .await
            .with_context(|| format!("relay client {i}"))?;
        clients.push((id, stream, reader));
    }
    let base = Instant::now();
    let start = base + Duration::from_millis(200);
    let deadline = start + config.duration;
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    let mut iter = clients.into_iter();
    while let (Some(a), Some(b)) = (iter.next(), iter.next()) {
        let (a_id, a_stream, a_reader) = a;
        let (b_id, b_stream, b_reader) = b;
        let (a_read, a_write) = a_stream.into_split();
        let (b_read, b_write) = b_stream.into_split();
        for (write, read, reader, from, to) in [
            (a_write, b_read, b_reader, a_id.clone(), b_id.clone()),
            (b_write, a_read, a_reader, b_id, a_id),
        ] {
            let dir = Arc::new(Dir {
                received: AtomicU64::new(0),
                sent_final: AtomicU64::new(u64::MAX),
                notify: Notify::new(),
            });
            let w = config.window;
            senders.push(tokio::spawn(sender(
                write,
                to,
                dir.clone(),
                base,
                start,
                deadline,
                w,
            )));
            receivers.push(tokio::spawn(receiver(
                read, reader, from, dir, base, deadline,
            )));
        }
    }
    tokio::time::sleep_until(start.into()).await;
    let (cpu0, gen0) = (server.cpu()?, servers::cpu_time("/proc/self/stat")?);
    tokio::time::sleep_until(deadline.into()).await;
    let (cpu1, gen1) = (server.cpu()?, servers::cpu_time("/proc/self/stat")?);
    let mut result = RelayResult {
        window_secs: config.duration.as_secs_f64(),
        server_cpu: cpu1.saturating_sub(cpu0),
        generator_cpu: gen1.saturating_sub(gen0),
        ..RelayResult::default()
    };
    let mut json = String::new();
    frame_json(
        &mut json,
        "r00000000p0b",
        1_000_000,
        10_000_000_000,
        &"x".repeat(PAD),
    );
    result.frame_bytes = json.len();
    let mut write_halves = Vec::new();
    for s in senders {
        let (sent, error, wh) = s.await?;
        result.sent += sent;
        result.errors.extend(error);
        write_halves.push(wh);
    }
    let mut latencies = Vec::new();
    for r in receivers {
        let stats = r.await?;
        latencies.extend(stats.latencies);
        result.received_in_window += stats.in_window;
        result.out_of_order += stats.out_of_order;
        result.foreign += stats.foreign;
        if result.first_foreign.is_none() {
            result.first_foreign = stats.first_foreign;
        }
        result.errors.extend(stats.error);
    }
    drop(write_halves);
    result.received = latencies.len() as u64;
    result.latency = Summary::of(latencies);
    server.check_alive()?;
    Ok(result)
}
