//! (a) Concurrent clients held: N WebSocket clients connect (bounded concurrency) and stay
//! connected; the time from TCP connect to `OPEN`, failures, and the server's RSS growth.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::net::TcpStream;

use crate::servers::Server;
use crate::stats::Summary;
use crate::ws;

/// Source addresses per run: 127.0.<octet>.1..=SOURCES. ~28 000 ephemeral ports each.
pub const SOURCES: usize = 32;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

pub struct HoldResult {
    pub target: usize,
    pub opened: usize,
    pub failures: usize,
    pub first_error: Option<String>,
    pub connect: Summary,
    pub elapsed: Duration,
    pub rss_idle_kib: u64,
    pub rss_loaded_kib: u64,
}

impl HoldResult {
    /// (RSS loaded − RSS idle) / clients held, in KiB.
    pub fn kib_per_client(&self) -> f64 {
        self.rss_loaded_kib.saturating_sub(self.rss_idle_kib) as f64 / self.opened.max(1) as f64
    }
}

pub fn source(octet: u8, i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, octet, (i % SOURCES) as u8 + 1)
}

/// Connects one client and waits for `OPEN`.
pub async fn open_client(
    src: Ipv4Addr,
    server: SocketAddr,
    id: &str,
    token: &str,
) -> anyhow::Result<(TcpStream, ws::FrameReader)> {
    let (mut stream, mut reader) = ws::connect(src, server, &Server::ws_target(id, token)).await?;
    let first = reader.next_text(&mut stream).await?;
    let text = String::from_utf8_lossy(&first);
    if !text.contains("\"OPEN\"") {
        bail!("expected OPEN, got {text}");
    }
    Ok((stream, reader))
}

/// Connects `n` clients with at most `concurrency` handshakes in flight, from source addresses
/// 127.0.`octet`.x, keeps them all open, and measures RSS before and 2 s after.
pub async fn run(
    server: &mut Server,
    n: usize,
    concurrency: usize,
    octet: u8,
) -> anyhow::Result<HoldResult> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_kib = server.rss_kib()?;
    let next = Arc::new(AtomicUsize::new(0));
    let addr = server.addr;
    let tag = rand::random::<u32>();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut held = Vec::new();
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let id = format!("h{tag:08x}x{i}");
                let token = format!("t{:x}", rand::random::<u64>());
                let t0 = Instant::now();
                let attempt = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    open_client(source(octet, i), addr, &id, &token),
                )
                .await;
                match attempt {
                    Ok(Ok((stream, _reader))) => {
                        latencies.push(t0.elapsed().as_micros() as u64);
                        held.push(stream);
                    }
                    Ok(Err(e)) => {
                        failures += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                    Err(_) => {
                        failures += 1;
                        first_error.get_or_insert_with(|| "no OPEN within 15 s".to_string());
                    }
                }
            }
            (held, latencies, failures, first_error)
        }));
    }
    let mut held = Vec::with_capacity(n);
    let mut latencies = Vec::with_capacity(n);
    let mut failures = 0;
    let mut first_error = None;
    for worker in workers {
        let (h, l, f, e) = worker.await?;
        held.extend(h);
        latencies.extend(l);
        failures += f;
        if first_error.is_none() {
            first_error = e;
        }
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.check_alive()?;
    let rss_loaded_kib = server.rss_kib()?;
    let opened = held.len();
    // Still connected? A closed socket would have its FIN waiting: a zero-length read.
    let mut dropped = 0;
    for stream in &held {
        let mut probe = [0u8; 1];
        if let Ok(0) = stream.try_read(&mut probe) {
            dropped += 1;
        }
    }
    if dropped > 0 {
        failures += dropped;
        first_error.get_or_insert_with(|| format!("{dropped} clients were closed by the server"));
    }
    drop(held);
    Ok(HoldResult {
        target: n,
        opened: opened - dropped,
        failures,
        first_error,
        connect: Summary::of(latencies),
        elapsed,
        rss_idle_kib,
        rss_loaded_kib,
    })
}
