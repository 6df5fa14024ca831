//! The PeerJS conformance runner. A case is an async function over a [`Run`]: it opens
//! WebSockets and sends HTTP requests to one target, and records every observation with
//! [`Run::expect`] — the official server's behaviour, or our documented improvement of it. Ids are
//! random per run and replaced by their labels (`<alice>`), server-made UUIDs by `<uuid-v4>`, so
//! both targets' transcripts can be compared entry by entry (`compare`).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use p2pcf_tests::peerjs_ws::{ws_url, Frame, PeerWs, UpgradeRefused};
use rand::Rng;
use reqwest::Method;
use tokio::time::Instant;

use super::improvements::Improvement;

/// Which implementation a case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// npm `peer@1.0.2` (`tests/js/peerjs_server.mjs`).
    Official,
    /// Our `p2pcf_server`.
    Ours,
}

/// The settings both servers of a group were started with (cases derive timing windows).
#[derive(Clone, Debug)]
pub struct Settings {
    pub expire_timeout_ms: u64,
    pub alive_timeout_ms: u64,
    pub concurrent_limit: usize,
}

pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// A named case: `run(&mut Run)` drives one target.
pub struct Case {
    pub name: &'static str,
    pub run: for<'a> fn(&'a mut Run) -> CaseFuture<'a>,
}

/// `case!(name)` for an `async fn name(r: &mut Run) -> anyhow::Result<()>`.
#[macro_export]
macro_rules! case {
    ($f:ident) => {
        $crate::peerjs_conformance::runner::Case {
            name: stringify!($f),
            run: |r| Box::pin($f(r)),
        }
    };
}

/// One observation of a case.
#[derive(Debug, Clone)]
pub struct Entry {
    pub what: String,
    pub observed: String,
    /// Set where our answer is allowed to differ (and then checked against its own expectation).
    pub improvement: Option<Improvement>,
}

/// One case's run against one target.
pub struct Run {
    pub target: Target,
    /// `http://127.0.0.1:{port}/peerjs/`
    pub base: String,
    pub settings: Settings,
    pub entries: Vec<Entry>,
    pub failures: Vec<String>,
    /// Printed after the run (measured values that are not compared, e.g. delays).
    pub notes: Vec<String>,
    ids: Vec<(String, String)>,
    http: reqwest::Client,
}

/// A signalling WebSocket of a case, with the close frame it has read but not yet reported.
pub struct Client {
    pub ws: PeerWs,
    pub label: String,
    pending_close: Option<Frame>,
}

/// How long a read waits for frames that are expected, and for frames that must not come.
const EXPECTED_WITHIN: Duration = Duration::from_secs(3);
const SILENCE: Duration = Duration::from_millis(400);
const EXTRA_WINDOW: Duration = Duration::from_millis(150);

impl Run {
    pub fn new(target: Target, base: String, settings: Settings) -> Self {
        Self {
            target,
            base,
            settings,
            entries: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            ids: Vec::new(),
            http: reqwest::Client::new(),
        }
    }

    /// A fresh peer id for `label` (alphanumeric, valid for the client), unique per run.
    pub fn id(&mut self, label: &str) -> String {
        if let Some((id, _)) = self.ids.iter().find(|(_, l)| l == &format!("<{label}>")) {
            return id.clone();
        }
        let id = format!("{label}{:010x}", rand::thread_rng().gen::<u64>() >> 24);
        self.ids.push((id.clone(), format!("<{label}>")));
        id
    }

    /// Replaces every id of this run by its label, and UUIDs by `<uuid-v4>` (checked shape).
    pub fn normalize(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (id, label) in &self.ids {
            out = out.replace(id.as_str(), label);
        }
        replace_uuids(&out)
    }

    /// Records `observed` (normalised) and checks it against the official behaviour, or against
    /// `ours` on our server where an improvement applies.
    pub fn expect(
        &mut self,
        what: &str,
        observed: &str,
        official: &str,
        ours: Option<(Improvement, &str)>,
    ) {
        let observed = self.normalize(observed);
        let want = match (ours, self.target) {
            (Some((_, ours)), Target::Ours) => ours,
            _ => official,
        };
        if observed != want {
            self.failures.push(format!(
                "{what}: got {observed:?}, expected {want:?}{}",
                match ours {
                    Some((reason, _)) if self.target == Target::Ours =>
                        format!(" (improvement {reason:?})"),
                    _ => String::new(),
                }
            ));
        }
        self.entries.push(Entry {
            what: what.to_owned(),
            observed,
            improvement: ours.map(|(reason, _)| reason),
        });
    }

    /// The WebSocket URL for a raw query (the `version` the client sends is appended).
    pub fn ws_url(&self, query: &str) -> String {
        ws_url(&self.base, &format!("{query}&version=1.5.5"))
    }

    /// Connects `label` (its id) with `token`; the upgrade itself must succeed.
    pub async fn connect(&mut self, label: &str, token: &str) -> anyhow::Result<Client> {
        let id = self.id(label);
        self.connect_query(label, &format!("key=peerjs&id={id}&token={token}"))
            .await
    }

    /// Connects with a raw query string; the upgrade itself must succeed.
    pub async fn connect_query(&mut self, label: &str, query: &str) -> anyhow::Result<Client> {
        let ws = PeerWs::connect(&self.ws_url(query)).await?;
        Ok(Client {
            ws,
            label: label.to_owned(),
            pending_close: None,
        })
    }

    /// Connects `label` and expects `{"type":"OPEN"}` and nothing else.
    pub async fn open(&mut self, label: &str, token: &str) -> anyhow::Result<Client> {
        let mut client = self.connect(label, token).await?;
        self.expect_frames(&format!("{label} connects"), &mut client, &[OPEN], None)
            .await;
        Ok(client)
    }

    /// Tries an upgrade that may be refused; observes `101` or the HTTP status.
    pub async fn upgrade_status(&mut self, url_path_and_query: &str) -> String {
        let base = self.base.trim_end_matches('/');
        let origin = base
            .find("/peerjs")
            .map_or(base, |i| &base[..i])
            .replacen("http://", "ws://", 1);
        match PeerWs::try_connect(&format!("{origin}{url_path_and_query}")).await {
            Ok(_) => "101".into(),
            Err(UpgradeRefused::Status(s)) => s.to_string(),
            Err(UpgradeRefused::Other(e)) => format!("failed: {e}"),
        }
    }

    /// Reads `client`'s text/binary frames (a close frame is kept for [`Run::expect_close`]) and
    /// checks them: waits for as many as expected (up to 3 s), then 150 ms more for extras; with
    /// none expected it listens for 400 ms.
    pub async fn expect_frames(
        &mut self,
        what: &str,
        client: &mut Client,
        official: &[&str],
        ours: Option<(Improvement, &[&str])>,
    ) {
        let wanted = match (&ours, self.target) {
            (Some((_, o)), Target::Ours) => o.len(),
            _ => official.len(),
        };
        let frames = read_frames(client, wanted).await;
        let observed = frames.join(" | ");
        let official = official.join(" | ");
        let ours_joined = ours.map(|(reason, o)| (reason, o.join(" | ")));
        self.expect(
            &format!("{what}: {} receives", client.label),
            &observed,
            &official,
            ours_joined.as_ref().map(|(r, o)| (*r, o.as_str())),
        );
    }

    /// Expects the server to close `client` (within 3 s); observes how: `close(no code)`,
    /// `close(CODE "reason")`, `ended` (no close frame), `still open`.
    pub async fn expect_close(
        &mut self,
        what: &str,
        client: &mut Client,
        official: &str,
        ours: Option<(Improvement, &str)>,
    ) {
        let observed = match client.pending_close.take() {
            Some(frame) => frame.describe(),
            None => loop {
                match client.ws.next(EXPECTED_WITHIN).await {
                    None => break "still open".to_owned(),
                    Some(f @ (Frame::Close(_) | Frame::Ended(_))) => break f.describe(),
                    Some(other) => {
                        let text = self.normalize(&other.describe());
                        self.failures
                            .push(format!("{what}: unexpected frame before close: {text}"));
                    }
                }
            },
        };
        self.expect(
            &format!("{what}: {} close", client.label),
            &observed,
            official,
            ours,
        );
    }

    /// The client closes with 1000, observes the server's close reply, then drops the
    /// connection (the official server deregisters only when the TCP connection ends) and
    /// gives the server 300 ms to notice.
    pub async fn client_close(&mut self, what: &str, mut client: Client) -> anyhow::Result<()> {
        client.ws.close(1000).await?;
        self.expect_close(what, &mut client, "close(1000 \"\")", None)
            .await;
        drop(client);
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    }

    /// Observes whether `client` is still open after 400 ms of silence: `still open`, how it
    /// was closed, or `frame …` if something arrived.
    pub async fn expect_state(
        &mut self,
        what: &str,
        client: &mut Client,
        official: &str,
        ours: Option<(Improvement, &str)>,
    ) {
        let observed = match client.pending_close.take() {
            Some(frame) => frame.describe(),
            None => match client.ws.next(SILENCE).await {
                None => "still open".to_owned(),
                Some(f @ (Frame::Close(_) | Frame::Ended(_))) => f.describe(),
                Some(other) => format!("frame {}", other.describe()),
            },
        };
        self.expect(
            &format!("{what}: {} socket", client.label),
            &observed,
            official,
            ours,
        );
    }

    /// Sends one text frame from `client`, with every `{name}` placeholder replaced by that
    /// label's id.
    pub async fn send(&mut self, client: &mut Client, template: &str) -> anyhow::Result<()> {
        let text = self.fill(template);
        client.ws.send_text(&text).await
    }

    /// The same, as a binary frame.
    pub async fn send_binary(&mut self, client: &mut Client, template: &str) -> anyhow::Result<()> {
        let text = self.fill(template);
        client.ws.send_binary(text.as_bytes()).await
    }

    /// Replaces `{label}` by the id of `label` (creating it if needed).
    pub fn fill(&mut self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{<") {
            let Some(end) = rest[start..].find(">}") else {
                break;
            };
            out.push_str(&rest[..start]);
            let label = &rest[start + 2..start + end];
            out.push_str(&self.id(label));
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// One HTTP request to `{base}{rel}`; observes `status; header: value; …` (the compared
    /// headers that are present) and the body separately.
    pub async fn http(
        &mut self,
        what: &str,
        method: Method,
        rel: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(String, String)> {
        let url = format!("{}{rel}", self.base);
        let mut req = self.http.request(method, &url);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = tokio::time::timeout(Duration::from_secs(10), req.send())
            .await
            .map_err(|_| anyhow::anyhow!("{what}: no answer within 10 s"))??;
        let mut head = res.status().as_u16().to_string();
        for name in COMPARED_HEADERS {
            if let Some(value) = res.headers().get(name) {
                let mut value = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
                if name == "content-type" {
                    value = value.to_ascii_lowercase().replace(' ', "");
                }
                head.push_str(&format!("; {name}: {value}"));
            }
        }
        let body = res.text().await?;
        Ok((head, body))
    }
}

/// Headers recorded from every HTTP answer and compared between the two targets.
pub const COMPARED_HEADERS: [&str; 8] = [
    "content-type",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-max-age",
    "access-control-expose-headers",
    "vary",
];

pub const OPEN: &str = r#"{"type":"OPEN"}"#;

/// Reads until `wanted` text/binary frames arrived (then a short window for extras), a close,
/// or the end of the stream.
async fn read_frames(client: &mut Client, wanted: usize) -> Vec<String> {
    read_frames_within(client, wanted, EXPECTED_WITHIN).await
}

/// [`read_frames`] waiting up to `within` for the expected frames (not normalised).
pub async fn read_frames_within(
    client: &mut Client,
    wanted: usize,
    within: Duration,
) -> Vec<String> {
    let mut frames = Vec::new();
    if client.pending_close.is_some() {
        return frames;
    }
    let start = Instant::now();
    loop {
        let wait = if frames.len() >= wanted {
            if wanted == 0 {
                SILENCE.saturating_sub(start.elapsed())
            } else {
                EXTRA_WINDOW
            }
        } else {
            within.saturating_sub(start.elapsed())
        };
        match client.ws.next(wait).await {
            None => return frames,
            Some(frame @ (Frame::Close(_) | Frame::Ended(_))) => {
                client.pending_close = Some(frame);
                return frames;
            }
            Some(frame) => frames.push(frame.describe()),
        }
    }
}

/// Replaces lower-case UUID v4 strings by `<uuid-v4>`.
fn replace_uuids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if text.get(i..i + 36).is_some_and(is_uuid_v4) {
            out.push_str("<uuid-v4>");
            i += 36;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

/// `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`, lower-case hex.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// Entry-by-entry equality of two runs of one case; entries with an improvement may differ
/// (both were checked against their own expectation). Returns (failures, allowed differences).
pub fn compare(case: &str, official: &Run, ours: &Run) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut allowed = Vec::new();
    if official.entries.len() != ours.entries.len() {
        failures.push(format!(
            "[{case}] {} observations on the official server, {} on ours",
            official.entries.len(),
            ours.entries.len()
        ));
    }
    for (o, u) in official.entries.iter().zip(&ours.entries) {
        if o.what != u.what {
            failures.push(format!(
                "[{case}] observations out of step: {:?} vs {:?}",
                o.what, u.what
            ));
            break;
        }
        if o.observed == u.observed {
            continue;
        }
        let line = format!(
            "[{case}] {}\n      official: {}\n      ours:     {}",
            o.what, o.observed, u.observed
        );
        match u.improvement {
            Some(reason) => allowed.push(format!("{line}\n      allowed: {reason:?}")),
            None => failures.push(format!("{line}\n      (not a documented improvement)")),
        }
    }
    (failures, allowed)
}
