//! Measures the desktop app (BENCHMARKS.md, "App"): time from launch to an interactive window
//! (WebDriver session requested → the join screen's script has run) and idle memory (RSS of the
//! app process and of its WebKit helper processes) after joining a room and idling.
//! Ignored in CI; run with
//! `cargo nextest run -p p2pcf-tests --test app_e2e_measure --run-ignored only --no-capture`
//! (`P2PCF_APP_BINARY=target/release/p2pcf-app` to measure the release build).

// The measurement uses only part of the shared driver.
#[path = "app_e2e/driver.rs"]
#[allow(dead_code)]
mod driver;

use std::time::{Duration, Instant};

use driver::{instance_home, unused_port, write_settings, App, Display};
use serde_json::json;

/// RSS in KiB of `pid` (from /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// (pid, ppid, comm) of every process.
fn processes() -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let ppid = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        out.push((pid, ppid, comm));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly"]
async fn measure_app_start_and_idle_memory() -> anyhow::Result<()> {
    let display = Display::start().await?;
    let mut starts = Vec::new();
    for i in 0..3 {
        let home = instance_home(&format!("measure{i}"))?;
        let started = Instant::now();
        let app = App::launch(&display, &home, "measure").await?;
        starts.push(started.elapsed());
        app.quit().await?;
    }
    let home = instance_home("measure-idle")?;
    let port = unused_port()?;
    write_settings(
        &home,
        json!({"signalling": "embedded", "stunServers": [], "turnServers": [], "port": port}),
    )?;
    let app = App::launch(&display, &home, "measure").await?;
    app.join("measure-room", "measure-app").await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let procs = processes();
    let app_pid = procs
        .iter()
        .find(|(_, _, comm)| comm == "p2pcf-app")
        .map(|(pid, _, _)| *pid)
        .ok_or_else(|| anyhow::anyhow!("p2pcf-app process not found"))?;
    let app_rss = rss_kib(app_pid);
    let helpers: Vec<_> = procs
        .iter()
        .filter(|(_, ppid, _)| *ppid == app_pid)
        .map(|(pid, _, comm)| (comm.clone(), rss_kib(*pid)))
        .collect();
    let total: u64 = app_rss + helpers.iter().map(|(_, r)| r).sum::<u64>();
    let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
    println!("launch → interactive window (ms, 3 runs): {ms:?}");
    println!("idle RSS after joining, 10 s: p2pcf-app {app_rss} KiB");
    for (comm, rss) in &helpers {
        println!("  child {comm}: {rss} KiB");
    }
    println!("  total {total} KiB ({:.1} MiB)", total as f64 / 1024.0);
    app.quit().await?;
    Ok(())
}
