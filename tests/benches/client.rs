//! Client benchmark (run in release: `cargo bench -p p2pcf-tests --bench client`).
//!
//! Measures, in one run, through our in-process server on loopback:
//! - join → data channel open: Rust↔Rust, Rust↔browser and browser↔browser (the anchor),
//!   median of `RUNS` rooms each;
//! - one-message throughput for 1 MB, 10 MB and 100 MB: Rust→Rust, and browser→browser with
//!   unmodified P2PCF (the anchor), send start to complete receipt.
//!
//! Prints a Markdown table. `BENCH_RUNS` overrides the number of join runs (default 7).

use std::time::{Duration, Instant};

use anyhow::Context;
use p2pcf_server::ServerConfig;
use p2pcf_tests::browser::{ev, seeded_bytes, sha256_hex, BrowserPeers};
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::server::TestServer;

const TIMEOUT: Duration = Duration::from_secs(120);
const SIZES: [usize; 3] = [1_000_000, 10_000_000, 100_000_000];

fn room(tag: &str) -> String {
    format!("bench-{tag}-{:08x}", rand::random::<u32>())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Both Rust clients join at once; the time until both data channels are open.
async fn rust_rust_join(url: &str) -> anyhow::Result<f64> {
    let room = room("rr");
    let started = Instant::now();
    let (a, b) = tokio::try_join!(
        RustPeer::join(url, &room, "alice"),
        RustPeer::join(url, &room, "bobby")
    )?;
    let (mut a, mut b) = (a, b);
    tokio::try_join!(a.connected(1, TIMEOUT), b.connected(1, TIMEOUT))?;
    let elapsed = ms(started.elapsed());
    a.handle.leave().await;
    b.handle.leave().await;
    Ok(elapsed)
}

/// A Rust client and a browser page start at once; the time until both report the connection.
async fn rust_browser_join(
    url: &str,
    browser: &mut BrowserPeers,
    run: usize,
) -> anyhow::Result<f64> {
    let room = room("rb");
    let id = format!("rb{run}");
    let started = Instant::now();
    let mut rust = RustPeer::join(url, &room, "rusty").await?;
    browser.open(&id, url, &room, "jsclient").await?;
    rust.connected(1, TIMEOUT).await?;
    let rust_id = rust.session_id().to_string();
    browser
        .wait_for(ev("peerconnect", &id).peer(&rust_id), TIMEOUT)
        .await?;
    let elapsed = ms(started.elapsed());
    rust.handle.leave().await;
    browser.close(&id).await?;
    Ok(elapsed)
}

/// Two browser pages start at once; the time until both report the connection.
async fn browser_browser_join(
    url: &str,
    browser: &mut BrowserPeers,
    run: usize,
) -> anyhow::Result<(f64, String, String)> {
    let room = room("bb");
    let (a, b) = (format!("a{run}"), format!("b{run}"));
    let started = Instant::now();
    let pa = browser.open(&a, url, &room, "alice").await?;
    let pb = browser.open(&b, url, &room, "bobby").await?;
    browser
        .wait_for(ev("peerconnect", &a).peer(&pb.session_id), TIMEOUT)
        .await?;
    browser
        .wait_for(ev("peerconnect", &b).peer(&pa.session_id), TIMEOUT)
        .await?;
    Ok((ms(started.elapsed()), a, b))
}

async fn rust_throughput(url: &str) -> anyhow::Result<Vec<(usize, f64)>> {
    let room = room("rt");
    let mut a = RustPeer::join(url, &room, "alice").await?;
    let mut b = RustPeer::join(url, &room, "bobby").await?;
    a.connected(1, TIMEOUT).await?;
    b.connected(1, TIMEOUT).await?;
    let mut out = Vec::new();
    let to = b.session_id().clone();
    for size in SIZES {
        let data = bytes::Bytes::from(seeded_bytes(size, size as u32));
        let started = Instant::now();
        let (sent, received) = tokio::join!(a.handle.send(&to, data.clone()), b.message(TIMEOUT));
        sent?;
        let (_, got) = received?;
        let secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(got == data, "Rust→Rust {size} bytes arrived corrupted");
        eprintln!("Rust→Rust {size} bytes in {secs:.2} s");
        out.push((size, size as f64 / secs / 1e6));
    }
    a.handle.leave().await;
    b.handle.leave().await;
    Ok(out)
}

/// Peak resident memory of this process so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// One 1 GB (10^9 bytes) message Rust→Rust (both in this process): MB/s, and how far peak memory
/// rose beyond the receiver's reassembly buffer during the transfer (the sender's copy exists
/// before). 1 GiB itself is over what the P2PCF chunk header can describe (65 536 chunks of
/// 15 988 bytes ≈ 999 MiB) and is refused by `send`.
async fn rust_gigabyte(url: &str) -> anyhow::Result<(f64, f64)> {
    const GIB: usize = 1_000_000_000;
    let room = room("gib");
    let mut options = p2pcf_tests::client::loopback_options(url);
    options.config.max_message_size = GIB + (1 << 20);
    let mut a = RustPeer::join_with(&room, "alice", options.clone()).await?;
    let mut b = RustPeer::join_with(&room, "bobby", options).await?;
    a.connected(1, TIMEOUT).await?;
    b.connected(1, TIMEOUT).await?;
    let to = b.session_id().clone();
    let data = bytes::Bytes::from(vec![0x5a_u8; GIB]);
    let before = peak_rss();
    let started = Instant::now();
    let (sent, received) = tokio::join!(
        a.handle.send(&to, data.clone()),
        b.message(Duration::from_secs(600))
    );
    sent?;
    let (_, got) = received?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        got.len() == GIB && got.iter().all(|&x| x == 0x5a),
        "1 GiB arrived corrupted"
    );
    let above = peak_rss().saturating_sub(before) as f64 / (1 << 20) as f64 - 1024.0;
    a.handle.leave().await;
    b.handle.leave().await;
    Ok((GIB as f64 / secs / 1e6, above))
}

/// Browser→browser with unmodified P2PCF; `None` where the message never arrived.
async fn browser_throughput(
    browser: &mut BrowserPeers,
    a: &str,
    b: &str,
    b_session: &str,
) -> anyhow::Result<Vec<(usize, Option<f64>)>> {
    let mut out = Vec::new();
    for size in SIZES {
        let seed = size as u32;
        let expected = sha256_hex(&seeded_bytes(size, seed));
        let started = Instant::now();
        let sent = browser.send_bytes(a, Some(b_session), size, seed).await;
        let received = match sent {
            Ok(_) => {
                browser
                    .wait_for(
                        ev("msg", b).field("size", size.into()),
                        Duration::from_secs(60),
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        match received {
            Ok(msg) if msg["sha256"] == expected.as_str() => out.push((
                size,
                Some(size as f64 / started.elapsed().as_secs_f64() / 1e6),
            )),
            Ok(_) => anyhow::bail!("browser→browser {size} bytes arrived corrupted"),
            Err(e) => {
                eprintln!("browser→browser {size} bytes did not arrive: {e:#}");
                out.push((size, None));
                break; // the channel is dead after a failed giant send
            }
        }
    }
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let server = TestServer::start(ServerConfig::default()).await?;
    let url = server.url.clone();
    let mut browser = BrowserPeers::launch().await.context("launching Chromium")?;

    let mut rr = Vec::new();
    let mut rb = Vec::new();
    let mut bb = Vec::new();
    let mut last_pair = None;
    for run in 0..runs {
        rr.push(rust_rust_join(&url).await?);
        rb.push(rust_browser_join(&url, &mut browser, run).await?);
        let (t, a, b) = browser_browser_join(&url, &mut browser, run).await?;
        bb.push(t);
        if let Some((pa, pb)) = last_pair.replace((a, b)) {
            browser.close(&pa).await?;
            browser.close(&pb).await?;
        }
        eprintln!(
            "run {run}: rust↔rust {:.0} ms, rust↔browser {:.0} ms, browser↔browser {:.0} ms",
            rr[run], rb[run], bb[run]
        );
    }

    let rust_tp = rust_throughput(&url).await?;
    let gib = if std::env::var_os("BENCH_SKIP_GIB").is_none() {
        Some(rust_gigabyte(&url).await?)
    } else {
        None
    };
    let (a, b) = last_pair.context("no browser pair")?;
    let peers = browser
        .send(serde_json::json!({"cmd": "peers", "id": a, "tag": "bench-peers"}))
        .await;
    peers?;
    let listing = browser
        .wait_for(ev("peers", &a).tag("bench-peers"), TIMEOUT)
        .await?;
    let b_session = listing["peers"][0]["peer"]
        .as_str()
        .context("peer of the last pair")?
        .to_owned();
    let browser_tp = browser_throughput(&mut browser, &a, &b, &b_session).await?;
    browser.quit().await?;

    println!("\n### join → data channel open (median of {runs}, our server, loopback)\n");
    println!("| pair | median ms | min ms | max ms |");
    println!("|---|---|---|---|");
    for (name, v) in [
        ("Rust↔Rust", &rr),
        ("Rust↔browser (P2PCF 1.3.14)", &rb),
        ("browser↔browser (P2PCF 1.3.14, anchor)", &bb),
    ] {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(0.0, f64::max);
        println!(
            "| {name} | {:.0} | {min:.0} | {max:.0} |",
            median(v.clone())
        );
    }
    println!("\n### one message, send start → fully received (MB/s, 1 MB = 10^6 bytes)\n");
    println!("| size | Rust→Rust | browser→browser (P2PCF 1.3.14, anchor) |");
    println!("|---|---|---|");
    for (i, size) in SIZES.iter().enumerate() {
        let rust = rust_tp
            .get(i)
            .map(|(_, v)| format!("{v:.1}"))
            .unwrap_or_default();
        let js = match browser_tp.get(i) {
            Some((_, Some(v))) => format!("{v:.1}"),
            Some((_, None)) => "failed (channel closed)".into(),
            None => "not run (channel dead)".into(),
        };
        println!("| {} MB | {rust} | {js} |", size / 1_000_000);
    }
    if let Some((rate, above)) = gib {
        println!(
            "\n1 GB Rust→Rust in one message: {rate:.1} MB/s; during the transfer peak memory rose \
             {above:.0} MiB beyond the receiver's 1 GB reassembly buffer"
        );
    }
    server.stop().await?;
    Ok(())
}
