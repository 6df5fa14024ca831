//! Parsing and validating request bodies exactly in the worker's order, with its 400 texts.
//!
//! The worker runs JavaScript on whatever JSON arrives; here every field is checked for the type
//! the worker silently assumes. Where the worker throws (HTTP 500) we answer 400 with the text of
//! the check that would have caught it; see the crate docs for the list of differences.

use serde_json::{Map, Value};

use crate::js;
use crate::room::{Package, PeerInfo, RoomId};

const DAY_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;
const TEN_MIN_MS: f64 = 10.0 * 60.0 * 1000.0;

/// A request answered with 400 and this exact body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

impl Rejection {
    fn new(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// A validated poll / publish request.
#[derive(Debug, Clone)]
pub struct PollRequest {
    pub room: RoomId,
    /// `k` when it is a string: the caller's own entry is left out of `ps`.
    pub context_id: Option<String>,
    /// `d` (with `t`, `x`, `k`) when it was sent.
    pub peer: Option<PeerInfo>,
    /// `p` when both `d` and `p` were sent: the caller asks to be published.
    pub packages: Option<Vec<Package>>,
}

/// A validated leave request.
#[derive(Debug, Clone)]
pub struct LeaveRequest {
    pub room: RoomId,
    /// `k`, `d[0]` and `dk` when all are strings; otherwise nothing can match.
    pub target: Option<LeaveTarget>,
}

/// What identifies the entry to delete.
#[derive(Debug, Clone)]
pub struct LeaveTarget {
    pub context_id: String,
    pub session_id: String,
    pub delete_key: String,
}

/// Parses a body like `request.json()` does; anything that is not a JSON object behaves as a
/// value without properties (the worker sees `undefined` for every field).
pub fn parse_body(body: &[u8]) -> Map<String, Value> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Validates a poll / publish body (`validatePayload` then the fields `handlePost` reads).
pub fn poll_request(payload: &Map<String, Value>, now_ms: f64) -> Result<PollRequest, Rejection> {
    let room = validate_room(payload)?;
    let peer = validate_peer(payload, now_ms)?;
    let packages = match (&peer, js::truthy(payload.get("p"))) {
        (Some(_), true) => Some(parse_packages(payload.get("p"))),
        _ => None,
    };
    let context_id = match payload.get("k") {
        Some(Value::String(k)) => Some(k.clone()),
        _ => None,
    };
    Ok(PollRequest {
        room,
        context_id,
        peer,
        packages,
    })
}

/// Validates a leave body: `dk` first (`Missing delete key`), then `validatePayload`.
pub fn leave_request(payload: &Map<String, Value>, now_ms: f64) -> Result<LeaveRequest, Rejection> {
    if !js::truthy(payload.get("dk")) {
        return Err(Rejection::new("Missing delete key"));
    }
    let room = validate_room(payload)?;
    let peer = validate_peer(payload, now_ms)?;
    let target = match (peer, payload.get("dk")) {
        (Some(peer), Some(Value::String(dk))) => Some(LeaveTarget {
            context_id: peer.context_id,
            session_id: peer.session_id,
            delete_key: dk.clone(),
        }),
        _ => None,
    };
    Ok(LeaveRequest { room, target })
}

fn validate_room(payload: &Map<String, Value>) -> Result<RoomId, Rejection> {
    let r = payload.get("r");
    if let Some(Value::String(s)) = r {
        let len = js::utf16_len(s);
        if (4..=64).contains(&len)
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Ok(RoomId(s.clone()));
        }
    }
    Err(Rejection(format!("Bad room id{}", js::to_js_string(r))))
}

fn validate_peer(payload: &Map<String, Value>, now_ms: f64) -> Result<Option<PeerInfo>, Rejection> {
    if !js::truthy(payload.get("d")) {
        return Ok(None);
    }
    let expire_in_ms = match payload.get("x") {
        Some(Value::Number(n)) => n.as_f64().filter(|x| *x != 0.0 && *x <= DAY_MS),
        _ => None,
    }
    .ok_or_else(|| Rejection::new("Bad expiration"))?;
    let timestamp = match payload.get("t") {
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|t| *t != 0.0 && (t - now_ms).abs() <= TEN_MIN_MS),
        _ => None,
    }
    .ok_or_else(|| Rejection::new("Bad timestamp"))?;
    let context_id =
        short_string(payload.get("k")).ok_or_else(|| Rejection::new("Bad context id"))?;

    let d = match payload.get("d") {
        Some(Value::Array(d)) if d.len() == 6 => d,
        // A 6-character string passes the worker's length check and fails at `d[2]`.
        Some(Value::String(s)) if js::utf16_len(s) == 6 => {
            return Err(Rejection::new("Bad is symmetric"))
        }
        _ => return Err(Rejection::new("Bad data length")),
    };
    let session_id = short_string(d.first()).ok_or_else(|| Rejection::new("Bad session id"))?;
    let client_id = short_string(d.get(1)).ok_or_else(|| Rejection::new("Bad client id"))?;
    let is_symmetric = match d.get(2) {
        Some(Value::Bool(b)) => *b,
        _ => return Err(Rejection::new("Bad is symmetric")),
    };
    let dtls = d.get(3);
    let dtls_len_ok = match dtls {
        Some(Value::String(s)) => js::utf16_len(s) == 44,
        Some(Value::Array(a)) => a.len() == 44,
        Some(Value::Object(o)) => o.get("length").and_then(Value::as_f64) == Some(44.0),
        _ => false,
    };
    if !dtls_len_ok {
        return Err(Rejection::new("Bad dtls"));
    }
    let joined_at = match d.get(4) {
        Some(Value::Number(n)) if n.as_f64().is_some_and(|x| x != 0.0) => n,
        _ => return Err(Rejection::new("Bad joined at timestamp")),
    };
    let ips_ok = match d.get(5) {
        Some(Value::Array(ips)) => ips
            .iter()
            .all(|ip| matches!(ip, Value::String(s) if js::worker_accepts_ip(s))),
        _ => false,
    };
    if !ips_ok {
        return Err(Rejection::new("Bad reflexive IPs"));
    }
    let dtls = match dtls {
        Some(Value::String(s)) if js::atob_ok(s) => s,
        _ => return Err(Rejection::new("Bad base64 encoding")),
    };

    let joined_at_ms = joined_at.as_f64().unwrap_or(f64::NAN);
    let reflexive_ips = match d.get(5) {
        Some(Value::Array(ips)) => ips
            .iter()
            .filter_map(|ip| ip.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(PeerInfo {
        context_id,
        session_id,
        client_id,
        is_symmetric,
        dtls: dtls.clone(),
        joined_at_ms,
        reflexive_ips,
        timestamp,
        expire_in_ms,
    }))
}

/// A non-empty string of at most 64 UTF-16 units (`!v || v.length > 64`, strings only).
fn short_string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() && js::utf16_len(s) <= 64 => Some(s.clone()),
        _ => None,
    }
}

/// `p`: only an array has packages; a package is delivered to the session named by its item 0.
fn parse_packages(p: Option<&Value>) -> Vec<Package> {
    let Some(Value::Array(items)) = p else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let to = match item {
                Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            let mut wire = String::new();
            js::write_json(&mut wire, item);
            Package { to, wire }
        })
        .collect()
}
