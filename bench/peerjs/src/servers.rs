//! The two servers under test as child processes: our `p2pcf serve` (release build) and the
//! official npm `peer` 1.0.2 through bench/peerjs/official.mjs. Each is started on a free
//! loopback port with its output in a log file, and killed (by PID) when dropped, also when the
//! benchmark fails. Memory and CPU are read from /proc/PID.

use std::fmt;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Path of the PeerJS endpoint on both servers (`new Peer({path: '/peerjs'})`).
pub const PEER_PATH: &str = "/peerjs/";
pub const KEY: &str = "peerjs";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ours,
    Official,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Ours => "ours",
            Kind::Official => "official",
        })
    }
}

/// How to start the servers.
pub struct Launch {
    pub workspace: PathBuf,
    pub ours_bin: PathBuf,
    pub log_dir: PathBuf,
}

pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub log: PathBuf,
    child: Child,
}

impl Server {
    pub fn start(kind: Kind, launch: &Launch, tag: &str) -> anyhow::Result<Server> {
        let port = free_port()?;
        let log = launch.log_dir.join(format!("{kind}-{tag}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = match kind {
            Kind::Ours => {
                let mut cmd = Command::new(&launch.ours_bin);
                // Defaults otherwise: PeerJS at /peerjs, concurrent limit 200 000, alive
                // timeout 90 s, expire timeout 5 s, info logging (to the log file).
                cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")]);
                cmd
            }
            Kind::Official => {
                let mut cmd = Command::new("node");
                cmd.arg(launch.workspace.join("bench/peerjs/official.mjs"))
                    .env("PORT", port.to_string())
                    .env("PEER_PATH", PEER_PATH.trim_end_matches('/'));
                cmd
            }
        };
        let child = cmd
            .current_dir(&launch.workspace)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting the {kind} server"))?;
        let mut server = Server {
            kind,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            child,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the {} server exited ({status}) before listening; log {}:\n{}",
                    self.kind,
                    self.log.display(),
                    tail(&self.log)
                );
            }
            if std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the {} server did not listen within 30 s", self.kind);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in KiB (VmRSS).
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.pid())
    }

    /// User + system CPU time consumed so far.
    pub fn cpu(&self) -> anyhow::Result<Duration> {
        cpu_time(&format!("/proc/{}/stat", self.pid()))
    }

    /// Fails (with the log's tail) if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the {} server died ({status}); log {}:\n{}",
                self.kind,
                self.log.display(),
                tail(&self.log)
            );
        }
        Ok(())
    }

    /// The WebSocket target for one client.
    pub fn ws_target(id: &str, token: &str) -> String {
        format!("{PEER_PATH}peerjs?key={KEY}&id={id}&token={token}&version=1.5.5")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// utime + stime of /proc/.../stat, assuming the usual 100 clock ticks per second (checked at
/// startup with `getconf CLK_TCK`).
pub fn cpu_time(stat_path: &str) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(stat_path)?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After "pid (comm)": state is field 3, utime 14 and stime 15 → indexes 11 and 12 here.
    let ticks: u64 = fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .zip(fields.get(12).and_then(|s| s.parse::<u64>().ok()))
        .map(|(u, s)| u + s)
        .context("no utime/stime in stat")?;
    Ok(Duration::from_millis(ticks * 10))
}
