//! The official PeerJS server (npm `peer@1.0.2`, unmodified) run by `tests/js/peerjs_server.mjs`
//! as a child process on `127.0.0.1` and a free port. The node process is killed (SIGKILL by PID)
//! when the handle is dropped, also when the test panics; it also exits when its stdin closes.
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! use p2pcf_tests::peerjs_server::{OfficialOptions, OfficialPeerServer};
//! let official = OfficialPeerServer::start(&OfficialOptions::default()).await?;
//! let id = reqwest::get(format!("{}peerjs/id", official.base_url())).await?.text().await?;
//! # let _ = id; Ok(()) }
//! ```

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::worker::js_dir;

/// The `PeerServer` options the launcher passes on (same meaning as `p2pcf_server::PeerJsConfig`).
#[derive(Debug, Clone)]
pub struct OfficialOptions {
    /// Mount path, e.g. `/peerjs` (API at `/peerjs/`, WebSocket at `/peerjs/peerjs`).
    pub path: String,
    pub key: String,
    pub expire_timeout_ms: u64,
    pub alive_timeout_ms: u64,
    pub concurrent_limit: usize,
    pub allow_discovery: bool,
}

impl Default for OfficialOptions {
    /// The library defaults of `peer@1.0.2`, mounted at `/peerjs`.
    fn default() -> Self {
        Self {
            path: "/peerjs".into(),
            key: "peerjs".into(),
            expire_timeout_ms: 5000,
            alive_timeout_ms: 90_000,
            concurrent_limit: 5000,
            allow_discovery: false,
        }
    }
}

/// A running official server. Killed on drop.
pub struct OfficialPeerServer {
    pub port: u16,
    /// The mount path as given (e.g. `/peerjs`).
    pub path: String,
    /// Every event line the launcher printed after start-up (`error`, `connection`, `disconnect`).
    events: Arc<Mutex<Vec<Value>>>,
    child: Child,
    _stdin: ChildStdin,
}

impl OfficialPeerServer {
    pub async fn start(options: &OfficialOptions) -> anyhow::Result<Self> {
        let mut cmd = Command::new("node");
        cmd.arg("peerjs_server.mjs")
            .args(["--path", &options.path, "--key", &options.key])
            .args(["--expire-timeout", &options.expire_timeout_ms.to_string()])
            .args(["--alive-timeout", &options.alive_timeout_ms.to_string()])
            .args(["--concurrent-limit", &options.concurrent_limit.to_string()])
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if options.allow_discovery {
            cmd.arg("--allow-discovery");
        }
        let mut child = cmd
            .spawn()
            .context("spawning `node peerjs_server.mjs` (run `npm ci` in tests/js first)")?;
        let stdin = child.stdin.take().context("peerjs_server.mjs stdin")?;
        let stdout = child.stdout.take().context("peerjs_server.mjs stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the official PeerJS server did not start within 30 s")??
            .ok_or_else(|| anyhow!("peerjs_server.mjs exited before printing its port"))?;
        let ready: Value = serde_json::from_str(&line)
            .with_context(|| format!("unexpected first line from peerjs_server.mjs: {line}"))?;
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| anyhow!("no port in {line}"))?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let event = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if let Ok(mut events) = sink.lock() {
                    events.push(event);
                }
            }
        });
        Ok(Self {
            port,
            path: options.path.clone(),
            events,
            child,
            _stdin: stdin,
        })
    }

    /// `http://127.0.0.1:{port}{path}/` — the base the PeerJS client builds its URLs on.
    pub fn base_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}{}/",
            self.port,
            self.path.trim_end_matches('/')
        )
    }

    /// The events (`{"ev":"error"|"connection"|"disconnect",…}`) printed so far.
    pub fn events(&self) -> Vec<Value> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The process id of the node process.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

impl Drop for OfficialPeerServer {
    fn drop(&mut self) {
        // SIGKILL by PID now (kill_on_drop would do it too, a moment later).
        let _ = self.child.start_kill();
    }
}
