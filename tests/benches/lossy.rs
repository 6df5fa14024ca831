//! Rust→Rust through the client (our chunking and backpressure) over a lossy link: 0 %, 0.5 %,
//! 2 % and 5 % of UDP datagrams dropped at random, each with the large UDP receive buffer and
//! with the request capped at stock Linux's 212992 bytes, 1 / 10 / 100 MB messages
//! (release: `cargo bench -p p2pcf-tests --bench lossy`).
//!
//! Every loss level runs in its own network namespace made for it (nftables drop rule on
//! input, see `p2pcf_tests::netns`); this binary re-executes itself inside it. Needs root.
//! Prints MB/s (send start to complete receipt, hash-checked) and process CPU seconds per
//! 100 MB (both peers and the server are in the process). `BENCH_RUNS` sets the runs per cell
//! (default 1, interleaved buffers); the table shows the median.

use std::time::{Duration, Instant};

use anyhow::Context;
use p2pcf_client::rtc::{DEFAULT_UDP_RECEIVE_BUFFER, STOCK_LINUX_UDP_RECEIVE_BUFFER};
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{seeded_bytes, sha256_hex};
use p2pcf_tests::client::{loopback_options, RustPeer};
use p2pcf_tests::netns::LossyNetns;
use p2pcf_tests::server::TestServer;

const CHILD: &str = "P2PCF_BENCH_LOSSY_CHILD";
const LOSSES_PER_MILLE: [u32; 4] = [0, 5, 20, 50];
const SIZES: [usize; 3] = [1_000_000, 10_000_000, 100_000_000];
const BUFFERS: [usize; 2] = [DEFAULT_UDP_RECEIVE_BUFFER, STOCK_LINUX_UDP_RECEIVE_BUFFER];
const TIMEOUT: Duration = Duration::from_secs(300);

/// User + system CPU time of this process so far (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    (ticks(11) + ticks(12)) / 100.0
}

/// One message of `size` bytes alice → bob: (MB/s, CPU s per 100 MB).
async fn transfer(url: &str, buffer: usize, size: usize) -> anyhow::Result<(f64, f64)> {
    let room = format!("lossy-{:08x}", rand::random::<u32>());
    let mut options = loopback_options(url);
    options.rtc.udp_receive_buffer = buffer;
    let mut a = RustPeer::join_with(&room, "alice", options.clone()).await?;
    let mut b = RustPeer::join_with(&room, "bobby", options).await?;
    a.connected(1, TIMEOUT).await?;
    b.connected(1, TIMEOUT).await?;
    let to = b.session_id().clone();
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
    Ok((size as f64 / secs / 1e6, cpu * 100e6 / size as f64))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Inside a namespace: every size × buffer, printing one `CELL` line each.
async fn child(runs: usize) -> anyhow::Result<()> {
    let server = TestServer::start(ServerConfig::default()).await?;
    for size in SIZES {
        for buffer in BUFFERS {
            let mut mbps = Vec::new();
            let mut cpu = Vec::new();
            for _ in 0..runs {
                let (m, c) = transfer(&server.url, buffer, size).await?;
                mbps.push(m);
                cpu.push(c);
            }
            println!(
                "CELL {size} {buffer} {:.1} {:.2}",
                median(mbps),
                median(cpu)
            );
        }
    }
    server.stop().await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    if std::env::var_os(CHILD).is_some() {
        return tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(child(runs));
    }
    println!("| UDP loss | size | receive buffer requested | MB/s | CPU s per 100 MB |");
    println!("|---|---|---|---|---|");
    for loss in LOSSES_PER_MILLE {
        let ns = LossyNetns::create("bench", loss)
            .map_err(|e| e.0)
            .context("this benchmark needs a network namespace (root)")?;
        let out = ns
            .command_for_self()?
            .env(CHILD, loss.to_string())
            .env("BENCH_RUNS", runs.to_string())
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "loss {loss}‰ run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let ["CELL", size, buffer, mbps, cpu] = f[..] {
                let size: usize = size.parse()?;
                println!(
                    "| {} % | {} MB | {buffer} | {mbps} | {cpu} |",
                    loss as f64 / 10.0,
                    size / 1_000_000
                );
            }
        }
    }
    Ok(())
}
