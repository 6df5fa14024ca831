//! Rust→Rust throughput through the client (our chunking and backpressure) with the large UDP
//! receive buffer and with the buffer capped at stock Linux's 212992 bytes, interleaved in one
//! run (release: `cargo bench -p p2pcf-tests --bench rtc_buffers`).
//!
//! Prints, per size and buffer setting: MB/s (send start to complete receipt, hash-checked),
//! process CPU seconds per 100 MB, and the receive buffer the kernel reported for the sockets.
//! `BENCH_RUNS` sets the runs per cell (default 1); the table shows the median.

use std::time::{Duration, Instant};

use p2pcf_client::rtc::{DEFAULT_UDP_RECEIVE_BUFFER, STOCK_LINUX_UDP_RECEIVE_BUFFER};
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{seeded_bytes, sha256_hex};
use p2pcf_tests::client::{loopback_options, RustPeer};
use p2pcf_tests::server::TestServer;

const TIMEOUT: Duration = Duration::from_secs(300);
const SIZES: [usize; 2] = [10_000_000, 100_000_000];

/// User + system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // `rest` starts at field 3 (state), so field n is at index n - 3.
    (ticks(14 - 3) + ticks(15 - 3)) / 100.0
}

struct Cell {
    mbps: f64,
    cpu_per_100mb: f64,
    granted: Option<usize>,
}

async fn transfer(url: &str, buffer: usize, size: usize) -> anyhow::Result<Cell> {
    let room = format!("buf-{:08x}", rand::random::<u32>());
    let mut options = loopback_options(url);
    options.rtc.udp_receive_buffer = buffer;
    let mut a = RustPeer::join_with(&room, "alice", options.clone()).await?;
    let mut b = RustPeer::join_with(&room, "bobby", options).await?;
    a.connected(1, TIMEOUT).await?;
    b.connected(1, TIMEOUT).await?;
    let to = b.session_id().clone();
    let granted = a
        .handle
        .socket_report(&to)
        .await?
        .and_then(|r| r.min_granted());
    let data = bytes::Bytes::from(seeded_bytes(size, size as u32));
    let want = sha256_hex(&data);
    let cpu = cpu_seconds();
    let started = Instant::now();
    let (sent, received) = tokio::join!(a.handle.send(&to, data), b.message(TIMEOUT));
    sent?;
    let (_, got) = received?;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    anyhow::ensure!(sha256_hex(&got) == want, "{size} bytes arrived corrupted");
    a.handle.leave().await;
    b.handle.leave().await;
    Ok(Cell {
        mbps: size as f64 / secs / 1e6,
        cpu_per_100mb: cpu * 100e6 / size as f64,
        granted,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let server = TestServer::start(ServerConfig::default()).await?;
    let buffers = [DEFAULT_UDP_RECEIVE_BUFFER, STOCK_LINUX_UDP_RECEIVE_BUFFER];
    println!("| size | UDP receive buffer requested | kernel reports | MB/s | CPU s per 100 MB |");
    println!("|---|---|---|---|---|");
    for size in SIZES {
        let mut cells: Vec<Vec<Cell>> = vec![Vec::new(), Vec::new()];
        for _ in 0..runs {
            // Interleaved, so both settings see the same machine load.
            for (i, buffer) in buffers.iter().enumerate() {
                let cell = transfer(&server.url, *buffer, size).await?;
                eprintln!(
                    "{size} bytes, buffer {buffer}: {:.1} MB/s, {:.2} CPU s/100 MB",
                    cell.mbps, cell.cpu_per_100mb
                );
                cells[i].push(cell);
            }
        }
        for (i, buffer) in buffers.iter().enumerate() {
            let granted = cells[i]
                .first()
                .and_then(|c| c.granted)
                .map_or("?".to_owned(), |g| g.to_string());
            println!(
                "| {} MB | {buffer} | {granted} | {:.1} | {:.2} |",
                size / 1_000_000,
                median(cells[i].iter().map(|c| c.mbps).collect()),
                median(cells[i].iter().map(|c| c.cpu_per_100mb).collect()),
            );
        }
    }
    Ok(())
}
