//! The real P2PCF `worker.js` (npm `p2pcf@1.3.14`) under miniflare, started as a child process.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Directory of the Node side of the harness (`tests/js`), where `npm ci` was run.
pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// A running miniflare instance serving the upstream worker. Killed on drop, together with the
/// `workerd` process miniflare starts (a SIGKILL of node alone would orphan it).
pub struct RealWorker {
    pub url: String,
    _group: GroupGuard,
    _child: Child,
}

impl RealWorker {
    /// Starts the worker with the given environment bindings (`ALLOWED_ORIGINS`, `ORIGIN_QUOTA`).
    pub async fn start(bindings: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new("node");
        cmd.arg("worker.mjs")
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true);
        for (name, value) in bindings {
            cmd.env(name, value);
        }
        let mut child = cmd
            .spawn()
            .context("spawning `node worker.mjs` (run `npm ci` in tests/js first)")?;
        let group = GroupGuard(child.id());
        let stdout = child.stdout.take().context("worker stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("miniflare did not start within 60 s")??
            .ok_or_else(|| anyhow!("miniflare exited before printing its URL"))?;
        let ready: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("unexpected first line from worker.mjs: {line}"))?;
        let url = ready["url"]
            .as_str()
            .ok_or_else(|| anyhow!("no url in {line}"))?
            .trim_end_matches('/')
            .to_string();
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            url,
            _group: group,
            _child: child,
        })
    }
}

/// Kills the process group on drop, so a failed start does not leave `workerd` behind either.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            crate::process::kill_process_group(pgid);
        }
    }
}
