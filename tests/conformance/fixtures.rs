//! Wire fixtures shared by the conformance, stress and hostile-input test binaries: valid P2PCF
//! peer data, request bodies in the shapes the JS client sends, and a tiny HTTP helper.
//! Included with `#[path]` so every binary compiles its own copy (nothing here is public API).
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};

/// Wall-clock milliseconds, the unit of `t`, `x` and `joinedAt`.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A fresh random room id (valid: `[A-Za-z0-9_-]{4,64}`), so cases never share state.
pub fn room_id(prefix: &str) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    format!("{prefix}-{tail}")
}

/// One simulated P2PCF client: the `d` tuple plus its context id `k`.
#[derive(Clone, Debug)]
pub struct Peer {
    pub session: String,
    pub client: String,
    pub symmetric: bool,
    pub dtls: String,
    pub joined_at: u64,
    pub ips: Vec<String>,
    pub context: String,
}

impl Peer {
    /// A valid peer whose ids are derived from `tag` (distinct tags give distinct peers).
    pub fn new(tag: &str) -> Self {
        let seed = tag
            .bytes()
            .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
        Self {
            session: format!("session-{tag}"),
            client: format!("client-{tag}"),
            symmetric: false,
            // base64 of a 32-byte SHA-256 fingerprint: 44 chars with one `=`.
            dtls: base64::engine::general_purpose::STANDARD.encode([seed; 32]),
            joined_at: 1_700_000_000_000 + u64::from(seed),
            ips: vec![format!("203.0.113.{}", seed % 250 + 1)],
            context: format!("context-{tag}"),
        }
    }

    /// The `d` field: `[sessionId, clientId, isSymmetric, dtlsB64, joinedAtMs, reflexiveIps]`.
    pub fn d(&self) -> Value {
        json!([
            self.session,
            self.client,
            self.symmetric,
            self.dtls,
            self.joined_at,
            self.ips
        ])
    }

    /// How this peer appears in another peer's `ps`: `d` followed by the data timestamp.
    pub fn seen(&self, t: u64) -> Value {
        let mut v = self.d();
        if let Some(items) = v.as_array_mut() {
            items.push(json!(t));
        }
        v
    }

    /// Publish: `{r, k, d, t, x, p}` — writes (or refreshes) this peer's entry.
    pub fn publish(&self, room: &str, t: u64, packages: Value) -> Value {
        json!({"r": room, "k": self.context, "d": self.d(), "t": t, "x": 120_000, "p": packages})
    }

    /// Steady-state poll between heartbeats: `{r, k, d, t, x}` (no `p`, so no write).
    pub fn poll(&self, room: &str, t: u64) -> Value {
        json!({"r": room, "k": self.context, "d": self.d(), "t": t, "x": 120_000})
    }

    /// The very first poll of a client: read-only `{r, k}`.
    pub fn read(&self, room: &str) -> Value {
        json!({"r": room, "k": self.context})
    }

    /// The leave request body the JS client sends (with `X-Worker-Method: DELETE`).
    pub fn leave(&self, room: &str, t: u64, dk: &str) -> Value {
        json!({"r": room, "k": self.context, "d": self.d(), "t": t, "x": 120_000, "dk": dk})
    }

    /// A package addressed to `to` (item 0 is the target session id), as peer B queues it.
    pub fn package_for(&self, to: &Peer, created_at: u64) -> Value {
        json!([
            to.session,
            self.session,
            "ufragB",
            "pwdB",
            self.dtls,
            "ufragA",
            "pwdA",
            created_at,
            ["candidate:0 1 udp 1 203.0.113.9 30000 typ srflx"]
        ])
    }
}

/// An HTTP client with a generous timeout (tests share 2 cores with the rest of the suite).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()
        .expect("building a reqwest client never fails without custom TLS")
}

/// A client that opens a new connection for every request: workerd resets a kept-alive
/// connection after answering without reading the body (content-type errors, exceptions),
/// which would otherwise fail the next request sent on it.
pub fn one_shot_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .expect("building a reqwest client never fails without custom TLS")
}

/// POSTs a JSON body as the P2PCF client does; returns status and body text.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> anyhow::Result<(u16, String)> {
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.text().await?))
}

/// Session ids (item 0) of the peers listed in a poll answer's `ps`.
pub fn seen_sessions(answer: &Value) -> Vec<String> {
    answer["ps"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get(0).and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
