//! Real services for the multi-instance tests, each a child process in its own process group on
//! a free loopback port, killed (the whole group) when dropped — also when a test fails:
//! Debian's `redis-server` and `p2pcf serve` instances (the `p2pcf` binary built by cargo).
//! The proxies in front of them are in [`crate::cluster_proxy`].
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! use p2pcf_tests::cluster::{Instance, Redis, WorkDir};
//! let dir = WorkDir::new("demo")?;
//! let redis = Redis::start(&dir).await?;
//! let a = Instance::start(&dir, "a", &["--store", &redis.url]).await?;
//! let b = Instance::start(&dir, "b", &["--store", &redis.url]).await?;
//! # let _ = (a.url, b.url); Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a service may take to start listening on a loaded 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A scratch directory under the system temp dir (configs, logs, pid files), removed on drop.
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub fn new(label: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "p2pcf-{label}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A loopback port nobody listens on right now (the caller retries if another process takes it
/// before the service binds it).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The workspace root (where `packaging/` and `target/` are).
pub fn workspace_root() -> anyhow::Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("workspace root")
}

/// The `p2pcf` binary: `$P2PCF_BINARY` if set (e.g. the release build), else
/// `target/debug/p2pcf` as CI's `nextest run --workspace` built it. It is (re)built with
/// `cargo build -p p2pcf-cli --bin p2pcf`, once per test process, only when missing or older
/// than a source file of the crates it is made of (running a test alone after an edit).
pub fn p2pcf_binary() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if let Some(binary) = std::env::var_os("P2PCF_BINARY") {
        return Ok(PathBuf::from(binary));
    }
    BUILT
        .get_or_init(|| build_p2pcf().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_p2pcf() -> anyhow::Result<PathBuf> {
    let root = workspace_root()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("debug").join("p2pcf");
    let built_at = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let sources =
        ["p2pcf-proto", "p2pcf-server", "p2pcf-cli"].map(|krate| root.join("crates").join(krate));
    let newest = sources
        .iter()
        .filter_map(|dir| newest_mtime(dir))
        .chain(newest_mtime(&root.join("Cargo.lock")))
        .max();
    if let (Some(built), Some(newest)) = (built_at, newest) {
        if built >= newest {
            return Ok(binary);
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", "p2pcf-cli", "--bin", "p2pcf"])
        .current_dir(&root)
        .status()
        .context("running cargo build -p p2pcf-cli --bin p2pcf")?;
    if !status.success() || !binary.exists() {
        bail!(
            "cargo build -p p2pcf-cli --bin p2pcf failed; {} missing",
            binary.display()
        );
    }
    Ok(binary)
}

/// The latest modification time of `path` or of any file under it.
fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let own = meta.modified().ok();
    if !meta.is_dir() {
        return own;
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest_mtime(&entry.path()))
        .chain(own)
        .max()
}

/// A child process in its own process group, its stdout and stderr in a log file. Dropping it
/// SIGKILLs the whole group (nginx's workers too) and reaps the child.
pub struct Service {
    name: String,
    child: Child,
    pgid: Option<u32>,
    log: PathBuf,
}

impl Service {
    /// Spawns `cmd` with stdin closed and output appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> anyhow::Result<Self> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().with_context(|| format!("spawning {name}"))?;
        let pgid = child.id();
        Ok(Self {
            name: name.to_owned(),
            child,
            pgid,
            log,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<u32> {
        self.pgid
    }

    /// Everything the service wrote so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status if the service has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `kill -9` of the whole process group, then waits for the child to be gone.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.signal_group();
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .with_context(|| format!("{} did not die after SIGKILL", self.name))??;
        self.pgid = None;
        Ok(())
    }

    fn signal_group(&mut self) {
        if let Some(pgid) = self.pgid {
            crate::process::kill_process_group(pgid);
        }
    }

    /// Waits until `addr` accepts TCP connections; fails early with the log if the service exits.
    pub async fn wait_listening(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            self.fail_if_exited()?;
            if Instant::now() > deadline {
                bail!(
                    "{} is not listening on {addr} after {START_TIMEOUT:?}; log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// An error with the log when the service has ended.
    pub fn fail_if_exited(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.exited() {
            bail!("{} exited ({status}); log:\n{}", self.name, self.log_text());
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.signal_group();
        let _ = self.child.start_kill();
        // Reap it so no zombie is left (it is dead or dying after SIGKILL).
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Debian's `redis-server` on a free loopback port, no persistence, its files in the work dir.
pub struct Redis {
    pub port: u16,
    /// `redis://127.0.0.1:PORT`, the `--store` value.
    pub url: String,
    pub service: Service,
}

impl Redis {
    pub async fn start(dir: &WorkDir) -> anyhow::Result<Self> {
        let mut last = None;
        for attempt in 0..3 {
            let port = free_port()?;
            let data = dir.join(&format!("redis-{port}"));
            std::fs::create_dir_all(&data)?;
            let mut cmd = Command::new("redis-server");
            cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&data);
            let log = dir.join(&format!("redis-{attempt}.log"));
            let mut service = Service::spawn("redis-server", cmd, log)
                .context("starting redis-server (apt install redis-server)")?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match service.wait_listening(addr).await {
                Ok(()) => {
                    ping(addr).await?;
                    return Ok(Self {
                        port,
                        url: format!("redis://127.0.0.1:{port}"),
                        service,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("redis-server did not start")))
    }
}

/// `PING` → `+PONG` in Redis's wire protocol.
async fn ping(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"PING\r\n").await?;
    let mut buf = [0u8; 7];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf))
        .await
        .context("redis did not answer PING")??;
    anyhow::ensure!(&buf == b"+PONG\r\n", "redis answered {buf:?} to PING");
    Ok(())
}

/// One `p2pcf serve` process on `127.0.0.1:0` (the port it logs is read back).
pub struct Instance {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub addr: SocketAddr,
    pub service: Service,
}

impl Instance {
    /// Starts `p2pcf serve --bind 127.0.0.1:0 ARGS…` and waits for its "listening on" line.
    pub async fn start(dir: &WorkDir, name: &str, args: &[&str]) -> anyhow::Result<Self> {
        let mut argv = vec!["serve", "--bind", "127.0.0.1:0"];
        argv.extend_from_slice(args);
        Self::start_program(dir, name, &p2pcf_binary()?, &argv).await
    }

    /// Starts `program ARGV…` (a `p2pcf serve` command line that binds a free port) and waits
    /// for its "listening on" line.
    pub async fn start_program(
        dir: &WorkDir,
        name: &str,
        program: &Path,
        argv: &[&str],
    ) -> anyhow::Result<Self> {
        let mut cmd = Command::new(program);
        cmd.args(argv).env("NO_COLOR", "1").env("RUST_LOG", "info");
        let mut service = Service::spawn(name, cmd, dir.join(&format!("{name}.log")))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            if let Some(addr) = listening_addr(&service.log_text()) {
                break addr;
            }
            service.fail_if_exited()?;
            if Instant::now() > deadline {
                bail!(
                    "{name} did not log its address; log:\n{}",
                    service.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        service.wait_listening(addr).await?;
        Ok(Self {
            url: format!("http://{addr}"),
            addr,
            service,
        })
    }
}

/// The address in `p2pcf serve`'s "listening on http://ADDR" log line.
fn listening_addr(log: &str) -> Option<SocketAddr> {
    let (_, rest) = log.split_once("listening on http://")?;
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    addr.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::listening_addr;

    #[test]
    fn reads_the_address_from_the_log_line() {
        let line = "2026-01-01T00:00:00Z  INFO p2pcf::serve: listening on http://127.0.0.1:40123 store=Memory\n";
        assert_eq!(
            listening_addr(line).map(|a| a.to_string()),
            Some("127.0.0.1:40123".into())
        );
        assert_eq!(listening_addr("nothing yet"), None);
    }
}
