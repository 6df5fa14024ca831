//! Unmodified PeerJS clients (npm `peerjs@1.5.5`) in headless Chromium, driven through
//! `tests/js/peerjs_peers.mjs` (JSON lines; protocol in `tests/js/README.md`). One page holds one
//! `Peer`; [`PeerJsBrowser::eval`] calls `window.harness[fn](args)` in a page and returns its
//! value; [`PeerJsBrowser::wait_for`] waits for the first not-yet-consumed event matching a
//! predicate (events that arrived earlier are still found). The node process, and with it
//! Chromium, is killed when this is dropped; a test that panics prints the recent events.
//!
//! ```no_run
//! # async fn demo(port: u16) -> anyhow::Result<()> {
//! use std::time::Duration;
//! use serde_json::json;
//! use p2pcf_tests::browser::ev;
//! use p2pcf_tests::peerjs_browser::PeerJsBrowser;
//! let mut browser = PeerJsBrowser::launch().await?;
//! browser.open("a").await?;
//! let open = browser
//!     .eval("a", "create", json!({"host": "127.0.0.1", "port": port, "path": "/peerjs"}))
//!     .await?;
//! println!("assigned id {}", open["peerId"]);
//! browser.wait_for(ev("open", "a"), Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

use std::fmt::Write as _;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::browser::EventPredicate;
use crate::worker::js_dir;

const RECENT_EVENTS: usize = 40;

pub struct PeerJsBrowser {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    log: Vec<(Value, bool)>,
    closed: bool,
    started_at: Instant,
    tags: u64,
}

impl PeerJsBrowser {
    /// Starts `node tests/js/peerjs_peers.mjs` (bundles the page, launches Chromium) and waits
    /// for `ready`.
    pub async fn launch() -> anyhow::Result<Self> {
        let mut child = Command::new("node")
            .arg("peerjs_peers.mjs")
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawning `node peerjs_peers.mjs` (run `npm ci` in tests/js)")?;
        let stdin = child.stdin.take().context("peerjs_peers.mjs stdin")?;
        let stdout = child.stdout.take().context("peerjs_peers.mjs stdout")?;
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({ "ev": "unparsed", "line": line }));
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let mut browser = Self {
            child,
            stdin,
            events,
            log: Vec::new(),
            closed: false,
            started_at: Instant::now(),
            tags: 0,
        };
        browser
            .wait_for(|e: &Value| e["ev"] == "ready", Duration::from_secs(60))
            .await
            .context("peerjs_peers.mjs did not become ready")?;
        Ok(browser)
    }

    async fn send(&mut self, cmd: Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(&cmd)?;
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .with_context(|| format!("writing to peerjs_peers.mjs: {cmd}"))?;
        self.stdin.flush().await?;
        Ok(())
    }

    fn next_tag(&mut self) -> String {
        self.tags += 1;
        format!("rs{}", self.tags)
    }

    /// Opens page `id` (a fresh browser context) with the harness loaded.
    pub async fn open(&mut self, id: &str) -> anyhow::Result<()> {
        let tag = self.next_tag();
        self.send(json!({ "cmd": "open", "id": id, "tag": tag }))
            .await?;
        self.wait_tagged("opened", &tag, Duration::from_secs(30))
            .await?;
        Ok(())
    }

    /// Closes page `id` (and its context) without anything else.
    pub async fn close(&mut self, id: &str) -> anyhow::Result<()> {
        let tag = self.next_tag();
        self.send(json!({ "cmd": "close", "id": id, "tag": tag }))
            .await?;
        self.wait_tagged("closed", &tag, Duration::from_secs(20))
            .await?;
        Ok(())
    }

    /// `await window.harness[fn](args)` in page `id`; its value (60 s at most).
    pub async fn eval(&mut self, id: &str, function: &str, args: Value) -> anyhow::Result<Value> {
        let tag = self.next_tag();
        self.send(json!({ "cmd": "eval", "id": id, "fn": function, "args": args, "tag": tag }))
            .await?;
        let result = self
            .wait_tagged("result", &tag, Duration::from_secs(60))
            .await
            .with_context(|| format!("harness.{function} in page {id}"))?;
        Ok(result["value"].clone())
    }

    /// The event `name` with `tag`; an `error` event with that tag fails at once.
    async fn wait_tagged(
        &mut self,
        name: &str,
        tag: &str,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let (name, tag) = (name.to_owned(), json!(tag));
        let event = self
            .wait_for(
                |e: &Value| e["tag"] == tag && (e["ev"] == name || e["ev"] == "error"),
                timeout,
            )
            .await?;
        if event["ev"] == "error" {
            bail!("harness error: {}\n{}", event["message"], self.recent());
        }
        Ok(event)
    }

    /// Closes Chromium and waits for the node process to exit.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.send(json!({ "cmd": "quit" })).await?;
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .context("peerjs_peers.mjs did not exit within 20 s of quit")??;
        if !status.success() {
            bail!("peerjs_peers.mjs exited with {status}");
        }
        Ok(())
    }

    /// Waits up to `timeout` for the first unconsumed event matching `pred` and consumes it.
    /// Fails early on an unconsumed `error` event (unless `pred` matches it) or when the
    /// controller exits; the error quotes the recent events.
    pub async fn wait_for(
        &mut self,
        mut pred: impl EventPredicate,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let wanted = pred.describe();
        let deadline = Instant::now() + timeout;
        let mut checked = 0;
        loop {
            while checked < self.log.len() {
                let (event, consumed) = &mut self.log[checked];
                checked += 1;
                if *consumed {
                    continue;
                }
                if pred.test(event) {
                    *consumed = true;
                    return Ok(event.clone());
                }
                if event["ev"] == "error" {
                    *consumed = true;
                    let event = event.clone();
                    bail!(
                        "browser harness reported an error: {event}\n{}",
                        self.recent()
                    );
                }
            }
            if self.closed {
                bail!("peerjs_peers.mjs exited while waiting\n{}", self.recent());
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => self.log.push((event, false)),
                Ok(None) => self.closed = true,
                Err(_) => bail!(
                    "no browser event within {timeout:?}: waited for {wanted}\n{}",
                    self.recent()
                ),
            }
        }
    }

    /// Every event received so far that matches `pred` (consumed or not), after pulling in
    /// what has arrived.
    pub fn seen(&mut self, mut pred: impl EventPredicate) -> Vec<Value> {
        while let Ok(event) = self.events.try_recv() {
            self.log.push((event, false));
        }
        self.log
            .iter()
            .filter(|(e, _)| pred.test(e))
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// The last events, one per line, for failure messages.
    pub fn recent(&self) -> String {
        let mut out = format!(
            "last {} of {} browser events ({:.1} s after launch):\n",
            RECENT_EVENTS.min(self.log.len()),
            self.log.len(),
            self.started_at.elapsed().as_secs_f64()
        );
        let skip = self.log.len().saturating_sub(RECENT_EVENTS);
        for (event, consumed) in &self.log[skip..] {
            let mut line = event.to_string();
            if line.len() > 600 {
                let mut cut = 600;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
                line.push('…');
            }
            let mark = if *consumed { '✓' } else { ' ' };
            let _ = writeln!(out, "  {mark} {line}");
        }
        out
    }
}

impl Drop for PeerJsBrowser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            while let Ok(event) = self.events.try_recv() {
                self.log.push((event, false));
            }
            eprintln!("{}", self.recent());
        }
        let _ = self.child.start_kill();
    }
}

/// A field of a JSON value as a string, or an error naming it.
pub fn str_field<'a>(value: &'a Value, name: &str) -> anyhow::Result<&'a str> {
    value[name]
        .as_str()
        .ok_or_else(|| anyhow!("no string {name} in {value}"))
}
