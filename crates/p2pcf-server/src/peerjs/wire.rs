//! The PeerJS wire: message texts the server sends, parsing of client frames, the WebSocket query
//! (`URLSearchParams` semantics) and the client's id rule. One definition per wire rule.

use std::fmt::Write as _;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// `Errors.INVALID_WS_PARAMETERS`.
pub const ERR_MISSING_PARAMS: &str = "No id, token, or key supplied to websocket server";
/// `Errors.INVALID_KEY`.
pub const ERR_INVALID_KEY: &str = "Invalid key provided";
/// `Errors.INVALID_TOKEN` (defined but unused upstream; we use it for over-long tokens).
pub const ERR_INVALID_TOKEN: &str = "Invalid token provided";
/// `Errors.CONNECTION_LIMIT_EXCEED`.
pub const ERR_LIMIT: &str = "Server has reached its concurrent user limit";
/// Ours: an id the PeerJS client itself would refuse.
pub const ERR_INVALID_ID: &str = "Invalid id provided";

/// Longest id and token we register (the official server has no limit).
pub const MAX_ID_BYTES: usize = 256;

/// `{"type":"OPEN"}`.
pub fn open() -> String {
    r#"{"type":"OPEN"}"#.to_owned()
}

/// `{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}`.
pub fn id_taken() -> String {
    r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#.to_owned()
}

/// `{"type":"ERROR","payload":{"msg":...}}`.
pub fn error(msg: &str) -> String {
    let mut out = String::with_capacity(40 + msg.len());
    out.push_str(r#"{"type":"ERROR","payload":{"msg":"#);
    push_json_string(&mut out, msg);
    out.push_str("}}");
    out
}

/// A server-made notice without payload: `{"type":T,"src":S,"dst":D}` (`EXPIRE`, `LEAVE`).
pub fn notice(kind: Kind, src: &str, dst: &str) -> String {
    relay(kind, src, dst, None)
}

/// What the server forwards: `{"type","src","dst","payload"}` in that order, `payload` only when
/// the client sent one (already compact JSON).
pub fn relay(kind: Kind, src: &str, dst: &str, payload: Option<&str>) -> String {
    let mut out = String::with_capacity(40 + src.len() + dst.len() + payload.map_or(0, str::len));
    out.push_str(r#"{"type":""#);
    out.push_str(kind.as_str());
    out.push_str(r#"","src":"#);
    push_json_string(&mut out, src);
    out.push_str(r#","dst":"#);
    push_json_string(&mut out, dst);
    if let Some(payload) = payload {
        out.push_str(r#","payload":"#);
        out.push_str(payload);
    }
    out.push('}');
    out
}

/// `JSON.stringify` of a string (same escapes as serde_json: `"`, `\`, control characters).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The message types the server acts on; anything else is ignored, as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Heartbeat,
    Offer,
    Answer,
    Candidate,
    Leave,
    Expire,
}

impl Kind {
    fn from_type(s: &str) -> Option<Self> {
        Some(match s {
            "HEARTBEAT" => Self::Heartbeat,
            "OFFER" => Self::Offer,
            "ANSWER" => Self::Answer,
            "CANDIDATE" => Self::Candidate,
            "LEAVE" => Self::Leave,
            "EXPIRE" => Self::Expire,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Heartbeat => "HEARTBEAT",
            Self::Offer => "OFFER",
            Self::Answer => "ANSWER",
            Self::Candidate => "CANDIDATE",
            Self::Leave => "LEAVE",
            Self::Expire => "EXPIRE",
        }
    }
}

/// The `dst` of a client message, as JavaScript would test it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dst {
    /// A non-empty string: an id.
    Id(String),
    /// Missing or falsy (`null`, `false`, `0`, `""`).
    Falsy,
    /// Any other value (a number, an object...): never an id; the message is dropped.
    Other,
}

/// A client frame, parsed. `kind: None` means a type the server ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub kind: Option<Kind>,
    pub dst: Dst,
    /// The payload as compact JSON (insignificant whitespace removed, otherwise verbatim).
    pub payload: Option<String>,
}

/// Why a frame was not a message.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Not JSON (or nested deeper than serde_json's 128 levels outside `payload`).
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
}

impl Incoming {
    /// Parses a text (or binary, read as UTF-8) frame. A JSON value that is not an object is a
    /// message of no type (ignored), as `JSON.parse` + the handler registry treat it.
    pub fn parse(frame: &[u8]) -> Result<Self, FrameError> {
        let text = match std::str::from_utf8(frame) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(frame),
        };
        let parsed: Parsed = serde_json::from_str(&text)?;
        Ok(parsed.0)
    }
}

struct Parsed(Incoming);

impl<'de> Deserialize<'de> for Parsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MessageVisitor)
    }
}

struct MessageVisitor;

const NOT_A_MESSAGE: Incoming = Incoming {
    kind: None,
    dst: Dst::Falsy,
    payload: None,
};

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut kind = None;
        let mut dst = Dst::Falsy;
        let mut payload = None;
        while let Some(key) = map.next_key::<Field>()? {
            // Duplicate keys: the last one wins, as in `JSON.parse`.
            match key {
                Field::Type => kind = map.next_value::<TypeValue>()?.0,
                Field::Dst => dst = map.next_value::<DstValue>()?.0,
                Field::Payload => {
                    let raw: &RawValue = map.next_value()?;
                    payload = Some(compact(raw.get()));
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Parsed(Incoming { kind, dst, payload }))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Parsed(NOT_A_MESSAGE))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Parsed, E> {
        Ok(Parsed(NOT_A_MESSAGE))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Parsed, E> {
        Ok(Parsed(NOT_A_MESSAGE))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Parsed, E> {
        Ok(Parsed(NOT_A_MESSAGE))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Parsed, E> {
        Ok(Parsed(NOT_A_MESSAGE))
    }
    fn visit_str<E>(self, _: &str) -> Result<Parsed, E> {
        Ok(Parsed(NOT_A_MESSAGE))
    }
    fn visit_unit<E>(self) -> Result<Parsed, E> {
        Ok(Parsed(NOT_A_MESSAGE))
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Type,
    Dst,
    Payload,
    #[serde(other)]
    Other,
}

/// `type`: only a string naming a handled type counts.
struct TypeValue(Option<Kind>);

impl<'de> Deserialize<'de> for TypeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value: &RawValue = Deserialize::deserialize(d)?;
        let kind = serde_json::from_str::<std::borrow::Cow<'_, str>>(value.get())
            .ok()
            .and_then(|s| Kind::from_type(&s));
        Ok(Self(kind))
    }
}

/// `dst`: classified by JavaScript truthiness.
struct DstValue(Dst);

impl<'de> Deserialize<'de> for DstValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: &RawValue = Deserialize::deserialize(d)?;
        let text = raw.get();
        let dst = match text.as_bytes().first() {
            Some(b'"') => match serde_json::from_str::<String>(text) {
                Ok(s) if s.is_empty() => Dst::Falsy,
                Ok(s) => Dst::Id(s),
                Err(_) => Dst::Other,
            },
            _ if text == "null" || text == "false" => Dst::Falsy,
            Some(b'-' | b'0'..=b'9') if text.parse::<f64>().is_ok_and(|n| n == 0.0) => Dst::Falsy,
            _ => Dst::Other,
        };
        Ok(Self(dst))
    }
}

/// Removes insignificant whitespace from valid JSON text (strings are copied verbatim).
/// Works on bytes: every structural character and JSON whitespace is ASCII, and UTF-8
/// continuation bytes are never ASCII, so only ASCII bytes are ever dropped.
pub fn compact(json: &str) -> String {
    let b = json.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                out.extend_from_slice(&b[start..i.min(b.len())]);
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The WebSocket query's `id`, `token` and `key`, read as `URLSearchParams` + `Object.fromEntries`
/// do: `+` and `%XX` decode, the last duplicate wins. Empty values count as missing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: Option<String>,
    pub token: Option<String>,
    pub key: Option<String>,
}

impl Query {
    /// Parses the query string (without `?`).
    pub fn parse(query: &str) -> Self {
        let mut out = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match form_decode(name).as_str() {
                "id" => &mut out.id,
                "token" => &mut out.token,
                "key" => &mut out.key,
                _ => continue,
            };
            *slot = Some(form_decode(value));
        }
        out.id = out.id.filter(|v| !v.is_empty());
        out.token = out.token.filter(|v| !v.is_empty());
        out.key = out.key.filter(|v| !v.is_empty());
        out
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte, a bad `%` stays.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The PeerJS client's `validateId`: `/^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/` (non-empty here).
pub fn is_valid_id(id: &str) -> bool {
    let mut after_separator = true; // the first character must be alphanumeric
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() {
            after_separator = false;
        } else if matches!(b, b' ' | b'_' | b'-') && !after_separator {
            after_separator = true;
        } else {
            return false;
        }
    }
    !id.is_empty() && !after_separator
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
