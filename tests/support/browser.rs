//! Unmodified P2PCF clients in headless Chromium, driven through `tests/js/peers.mjs`.
//!
//! `peers.mjs` speaks JSON lines (protocol: `tests/js/README.md`). [`BrowserPeers`] sends its
//! commands and keeps every event it prints in a log; [`BrowserPeers::wait_for`] waits for the
//! first not-yet-consumed event matching a predicate, so an event that arrived before the wait
//! began is still found, and the same event is never returned twice. Failures quote the recent
//! events, and a test that panics while a `BrowserPeers` is alive prints them as well.
//!
//! Video (fake camera → `peer.addStream`, remote `<video>` tiles, frame counts, grayscale
//! snapshots): [`BrowserPeers::enable_video`], [`BrowserPeers::disable_video`],
//! [`BrowserPeers::video_stats`], [`BrowserPeers::wait_video`], [`BrowserPeers::snapshot`],
//! [`BrowserPeers::codec_capabilities`].
//!
//! ```no_run
//! # async fn demo(worker_url: &str) -> anyhow::Result<()> {
//! use std::time::Duration;
//! use p2pcf_tests::browser::{ev, BrowserPeers};
//! let mut browser = BrowserPeers::launch().await?;
//! let a = browser.open("a", worker_url, "room-1", "alice").await?;
//! let b = browser.open("b", worker_url, "room-1", "bob1").await?;
//! browser.wait_for(ev("peerconnect", "a").peer(&b.session_id), Duration::from_secs(40)).await?;
//! browser.send_text("a", Some(&b.session_id), "hi").await?;
//! let msg = browser.wait_for(ev("msg", "b").peer(&a.session_id), Duration::from_secs(10)).await?;
//! assert_eq!(msg["text"], "hi");
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

use crate::worker::js_dir;

mod video;
pub use video::{
    Codec, CodecCapabilities, FrameInfo, Rect, RemoteVideo, Snapshot, SnapshotRequest,
    VideoEnabled, VideoOptions,
};

/// How many events failure messages quote.
const RECENT_EVENTS: usize = 40;

/// A client started in a page (`started` event).
#[derive(Debug, Clone)]
pub struct Started {
    /// The page id given to `open`.
    pub id: String,
    /// P2PCF session id (what remote peers see as `peer`).
    pub session_id: String,
    pub client_id: String,
    pub context_id: String,
}

/// Headless Chromium with one P2PCF client per page. The node process (and with it Chromium) is
/// killed when this is dropped; [`BrowserPeers::quit`] shuts down cleanly (sending the leaves).
pub struct BrowserPeers {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    /// Every event received so far, with a flag set once `wait_for` returned it.
    log: Vec<(Value, bool)>,
    closed: bool,
    started_at: Instant,
    tags: u64,
}

impl BrowserPeers {
    /// Starts `node tests/js/peers.mjs` and waits for its `ready` event (Chromium running).
    pub async fn launch() -> anyhow::Result<Self> {
        let mut child = Command::new("node")
            .arg("peers.mjs")
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawning `node peers.mjs` (run scripts/setup.sh or `npm ci` in tests/js)")?;
        let stdin = child.stdin.take().context("peers.mjs stdin")?;
        let stdout = child.stdout.take().context("peers.mjs stdout")?;
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
        let mut peers = Self {
            child,
            stdin,
            events,
            log: Vec::new(),
            closed: false,
            started_at: Instant::now(),
            tags: 0,
        };
        peers
            .wait_for(|e: &Value| e["ev"] == "ready", Duration::from_secs(60))
            .await
            .context("peers.mjs did not become ready")?;
        Ok(peers)
    }

    /// Sends one raw command (see `tests/js/README.md`).
    pub async fn send(&mut self, cmd: Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(&cmd)?;
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .with_context(|| format!("writing to peers.mjs: {cmd}"))?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Opens page `id` with a P2PCF client of `client` in `room` on `worker_url`, with no STUN
    /// or TURN servers, and waits until it started.
    pub async fn open(
        &mut self,
        id: &str,
        worker_url: &str,
        room: &str,
        client: &str,
    ) -> anyhow::Result<Started> {
        self.open_with(id, worker_url, room, client, json!({}), false)
            .await
    }

    /// [`open`](Self::open) with P2PCF constructor `options` (merged over the empty ICE server
    /// lists) and, if `trace_http`, `http` events for every request to the worker.
    pub async fn open_with(
        &mut self,
        id: &str,
        worker_url: &str,
        room: &str,
        client: &str,
        options: Value,
        trace_http: bool,
    ) -> anyhow::Result<Started> {
        self.send(json!({
            "cmd": "open", "id": id, "worker": worker_url, "room": room, "client": client,
            "options": options, "traceHttp": trace_http,
        }))
        .await?;
        let ev = self
            .wait_for(ev("started", id), Duration::from_secs(30))
            .await?;
        let field = |name: &str| -> anyhow::Result<String> {
            ev[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("`started` without {name}: {ev}"))
        };
        Ok(Started {
            id: id.to_owned(),
            session_id: field("sessionId")?,
            client_id: field("clientId")?,
            context_id: field("contextId")?,
        })
    }

    /// Sends UTF-8 `text` from page `id` to the peer with session id `to` (all peers if `None`)
    /// and returns the `sent` event.
    pub async fn send_text(
        &mut self,
        id: &str,
        to: Option<&str>,
        text: &str,
    ) -> anyhow::Result<Value> {
        let tag = self.next_tag();
        self.send(json!({ "cmd": "send", "id": id, "to": to, "text": text, "tag": tag }))
            .await?;
        self.wait_for(ev("sent", id).tag(&tag), Duration::from_secs(10))
            .await
    }

    /// Sends [`seeded_bytes`]`(size, seed)` from page `id`; returns the `sent` event.
    pub async fn send_bytes(
        &mut self,
        id: &str,
        to: Option<&str>,
        size: usize,
        seed: u32,
    ) -> anyhow::Result<Value> {
        let tag = self.next_tag();
        self.send(json!({
            "cmd": "sendBytes", "id": id, "to": to, "size": size, "seed": seed, "tag": tag,
        }))
        .await?;
        self.wait_for(ev("sent", id).tag(&tag), Duration::from_secs(60))
            .await
    }

    /// Destroys page `id`'s client (which sends the leave request) and closes the page.
    pub async fn close(&mut self, id: &str) -> anyhow::Result<()> {
        let tag = self.next_tag();
        self.send(json!({ "cmd": "close", "id": id, "tag": tag }))
            .await?;
        self.wait_for(ev("closed", id).tag(&tag), Duration::from_secs(20))
            .await?;
        Ok(())
    }

    /// Destroys every client, closes Chromium and waits for the node process to exit.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.send(json!({ "cmd": "quit" })).await?;
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .context("peers.mjs did not exit within 20 s of quit")??;
        if !status.success() {
            bail!("peers.mjs exited with {status}");
        }
        Ok(())
    }

    /// Waits up to `timeout` for the first event not returned before that matches `pred`, and
    /// marks it returned. Fails early on an unconsumed `error` event (unless `pred` matches it)
    /// or when peers.mjs exits; the error quotes the recent events.
    pub async fn wait_for(
        &mut self,
        pred: impl EventPredicate,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let wanted = pred.describe();
        match self.next_match(pred, Instant::now() + timeout).await? {
            Some(event) => Ok(event),
            None => bail!(
                "no browser event within {timeout:?}: waited for {wanted}\n{}",
                self.recent()
            ),
        }
    }

    /// Watches the events for `duration`; fails if one matches `pred` (or on an `error` event).
    pub async fn expect_none(
        &mut self,
        pred: impl EventPredicate,
        duration: Duration,
    ) -> anyhow::Result<()> {
        match self.next_match(pred, Instant::now() + duration).await? {
            Some(event) => bail!("unexpected browser event: {event}\n{}", self.recent()),
            None => Ok(()),
        }
    }

    /// The first unconsumed event matching `pred` before `deadline`, or `None` at the deadline.
    async fn next_match(
        &mut self,
        mut pred: impl EventPredicate,
        deadline: Instant,
    ) -> anyhow::Result<Option<Value>> {
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
                    return Ok(Some(event.clone()));
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
                bail!("peers.mjs exited while waiting\n{}", self.recent());
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => self.log.push((event, false)),
                Ok(None) => self.closed = true,
                Err(_) => return Ok(None),
            }
        }
    }

    /// Every event received so far (including consumed ones), oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Value> {
        self.log.iter().map(|(event, _)| event)
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

    fn next_tag(&mut self) -> String {
        self.tags += 1;
        format!("rs{}", self.tags)
    }
}

impl Drop for BrowserPeers {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Pull in what already arrived so the panic shows the full picture.
            while let Ok(event) = self.events.try_recv() {
                self.log.push((event, false));
            }
            eprintln!("{}", self.recent());
        }
    }
}

/// A predicate builder over events: `ev("msg", "p1").peer(session).text("hi")`.
#[derive(Debug, Clone)]
pub struct EventMatch {
    fields: Vec<(&'static str, Value)>,
}

/// Matches events named `name` from page `id`.
pub fn ev(name: &str, id: &str) -> EventMatch {
    EventMatch {
        fields: vec![("ev", json!(name)), ("id", json!(id))],
    }
}

impl EventMatch {
    /// Also requires the remote session id.
    pub fn peer(mut self, session_id: &str) -> Self {
        self.fields.push(("peer", json!(session_id)));
        self
    }

    /// Also requires the text of a `msg`.
    pub fn text(mut self, text: &str) -> Self {
        self.fields.push(("text", json!(text)));
        self
    }

    /// Also requires the echoed command tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.fields.push(("tag", json!(tag)));
        self
    }

    /// Also requires `field == value`.
    pub fn field(mut self, field: &'static str, value: Value) -> Self {
        self.fields.push((field, value));
        self
    }

    pub fn matches(&self, event: &Value) -> bool {
        self.fields.iter().all(|(k, v)| &event[*k] == v)
    }
}

/// What [`BrowserPeers::wait_for`] accepts: an [`EventMatch`] or any `FnMut(&Value) -> bool`
/// (annotate the closure argument: `|e: &Value| e["ev"] == "msg"`).
pub trait EventPredicate {
    fn test(&mut self, event: &Value) -> bool;

    /// What the predicate looks for, for failure messages.
    fn describe(&self) -> String {
        "an event matching a custom predicate".to_owned()
    }
}

impl<F: FnMut(&Value) -> bool> EventPredicate for F {
    fn test(&mut self, event: &Value) -> bool {
        self(event)
    }
}

impl EventPredicate for EventMatch {
    fn test(&mut self, event: &Value) -> bool {
        self.matches(event)
    }

    fn describe(&self) -> String {
        let fields: serde_json::Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        format!("an event with {}", Value::Object(fields))
    }
}

/// The bytes `sendBytes` generates in the page: xorshift32 from `seed` (0 → `0x9e3779b9`), each
/// step's `u32` written little-endian, the last one truncated at `size`.
pub fn seeded_bytes(size: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 4);
    let mut x = if seed == 0 { 0x9e37_79b9 } else { seed };
    while out.len() < size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// Lower-case hex SHA-256, as the page reports it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
