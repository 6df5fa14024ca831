//! PeerJS server benchmark: our `p2pcf serve` (release build) against the official npm `peer`
//! 1.0.2 server, in one run, on loopback. Not run in CI.
//!
//! ```sh
//! cargo run --release -p p2pcf-bench-peerjs
//! ```
//!
//! (a) concurrent clients held (SMALL to both, LARGE to ours): connect p50/p99, failures, RSS per
//! client; (b) relay between client pairs for SECS seconds: msgs/s, latency, lost; (c) the delay
//! until `EXPIRE` for an id nobody holds. Each measurement gets freshly started servers. Prints
//! progress on stderr and a Markdown table on stdout.
//!
//! Env: PEERJS_BENCH_SMALL (10000), PEERJS_BENCH_LARGE (100000), PEERJS_BENCH_CONCURRENCY
//! (connects in flight, 64), PEERJS_BENCH_PAIRS (32), PEERJS_BENCH_WINDOW (frames in flight per
//! direction, 8), PEERJS_BENCH_SECS (15), PEERJS_BENCH_SAMPLES (6), PEERJS_BENCH_ONLY
//! (`ours`|`official`), P2PCF_BIN (use this server binary instead of building one).

mod expire;
mod hold;
mod relay;
mod report;
mod servers;
mod stats;
mod ws;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::report::{Machine, Results};
use crate::servers::{Kind, Launch, Server};

pub struct Config {
    pub small: usize,
    pub large: usize,
    pub concurrency: usize,
    pub pairs: usize,
    pub window: u64,
    pub secs: u64,
    pub samples: usize,
    pub only: Option<Kind>,
    /// The requested LARGE when the open-file limit forced a smaller one.
    pub capped_from: Option<usize>,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .ok()
            .with_context(|| format!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let only = match std::env::var("PEERJS_BENCH_ONLY").as_deref() {
            Err(_) | Ok("") => None,
            Ok("ours") => Some(Kind::Ours),
            Ok("official") => Some(Kind::Official),
            Ok(other) => bail!("PEERJS_BENCH_ONLY={other}: expected ours or official"),
        };
        Ok(Config {
            small: env_num("PEERJS_BENCH_SMALL", 10_000)?,
            large: env_num("PEERJS_BENCH_LARGE", 100_000)?,
            concurrency: env_num("PEERJS_BENCH_CONCURRENCY", 64)?,
            pairs: env_num("PEERJS_BENCH_PAIRS", 32)?,
            window: env_num("PEERJS_BENCH_WINDOW", 8)?,
            secs: env_num("PEERJS_BENCH_SECS", 15)?,
            samples: env_num("PEERJS_BENCH_SAMPLES", 6)?,
            only,
            capped_from: None,
        })
    }

    fn runs(&self, kind: Kind) -> bool {
        self.only.is_none_or(|only| only == kind)
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Raises this process's open-file limit (inherited by both servers) with `prlimit`; the crate
/// forbids `unsafe`, so no direct setrlimit call.
fn raise_nofile() -> anyhow::Result<u64> {
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg("--nofile=1048576:1048576")
        .status()
        .context("running prlimit")?;
    if !status.success() {
        eprintln!("warning: prlimit failed ({status}); keeping the current open-file limit");
    }
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .context("reading Max open files")
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn ours_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("P2PCF_BIN") {
        return Ok(PathBuf::from(bin));
    }
    eprintln!("== cargo build --release -p p2pcf-cli");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "p2pcf-cli"])
        .current_dir(workspace())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p p2pcf-cli failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    Ok(target.join("release/p2pcf"))
}

fn main() -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    if command_output("getconf", &["CLK_TCK"]) != "100" {
        bail!("CPU times assume 100 clock ticks per second");
    }
    let nofile = raise_nofile()?;
    // Each held client costs one descriptor in the generator and one in the server; keep 500
    // for everything else. Without CAP_SYS_RESOURCE the hard limit cannot be raised.
    let fit = usize::try_from(nofile.saturating_sub(500)).unwrap_or(usize::MAX);
    if config.small > fit {
        bail!(
            "open-file limit {nofile} is too low for {} clients",
            config.small
        );
    }
    if config.large > fit {
        eprintln!(
            "warning: the open-file hard limit is {nofile} and cannot be raised here; holding {fit} instead of {} clients",
            config.large
        );
        config.capped_from = Some(config.large);
        config.large = fit;
    }
    let ours_bin = if config.runs(Kind::Ours) {
        ours_binary()?
    } else {
        PathBuf::new()
    };
    let log_dir = std::env::temp_dir().join(format!("peerjs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir)?;
    let launch = Launch {
        workspace: workspace(),
        ours_bin,
        log_dir,
    };
    let machine = Machine::now(nofile, &config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(run(&config, &launch))?;
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    report::print(&machine, &config, &results, load_after.trim());
    let _ = std::fs::remove_dir_all(&launch.log_dir);
    Ok(())
}

async fn run(config: &Config, launch: &Launch) -> anyhow::Result<Results> {
    let mut results = Results::default();
    let kinds: Vec<Kind> = [Kind::Official, Kind::Ours]
        .into_iter()
        .filter(|k| config.runs(*k))
        .collect();
    for (i, &kind) in kinds.iter().enumerate() {
        eprintln!("== (a) {kind}: {} clients held", config.small);
        let mut server = Server::start(kind, launch, "hold-small")?;
        let held = hold::run(&mut server, config.small, config.concurrency, 10 + i as u8).await?;
        eprintln!("   {}", report::hold_line(&held));
        results.hold_small.push((kind, held));
    }
    if config.runs(Kind::Ours) && config.large > 0 {
        eprintln!("== (a) ours: {} clients held", config.large);
        let mut server = Server::start(Kind::Ours, launch, "hold-large")?;
        let held = hold::run(&mut server, config.large, config.concurrency, 20).await?;
        eprintln!("   {}", report::hold_line(&held));
        results.hold_large = Some(held);
    }
    let relay_config = |octet| relay::RelayConfig {
        pairs: config.pairs,
        window: config.window,
        duration: Duration::from_secs(config.secs),
        octet,
    };
    for (i, &kind) in kinds.iter().enumerate() {
        eprintln!(
            "== (b) {kind}: relay, {} pairs, window {}, {} s",
            config.pairs, config.window, config.secs
        );
        let mut server = Server::start(kind, launch, "relay")?;
        eprintln!("   server pid {}", server.pid());
        let relayed = relay::run(&mut server, &relay_config(30 + i as u8)).await?;
        eprintln!("   {}", report::relay_line(&relayed));
        results.relay.push((kind, relayed));
    }
    for (i, &kind) in kinds.iter().enumerate() {
        eprintln!("== (c) {kind}: EXPIRE delay, {} samples", config.samples);
        let mut server = Server::start(kind, launch, "expire")?;
        let expired = expire::run(&mut server, config.samples, 40 + i as u8).await?;
        eprintln!("   {}", report::expire_line(&expired));
        results.expire.push((kind, expired));
    }
    Ok(results)
}
