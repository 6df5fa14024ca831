//! The worker's JSON, byte-for-byte: the poll request `{r, k, dk?, d?, t?, x?, p?}`, the
//! response `{ps, pk, dk?}`, and the array-shaped items inside them.
//!
//! P2PCF's terse keys live only here. Arrays are (de)serialized as the exact JSON arrays
//! the JS client and worker use. Responses are parsed leniently: a malformed item in
//! `ps`/`pk` (another client may publish junk) is skipped and counted, not fatal.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ClientId, ContextId, ProtoError, RoomId, SessionId};

/// The body of a poll / publish / leave request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollRequest {
    /// `r`: the room.
    #[serde(rename = "r")]
    pub room: RoomId,
    /// `k`: the context id (one worker entry per context id).
    #[serde(rename = "k")]
    pub context: ContextId,
    /// `dk`: the delete key, only on the leave request.
    #[serde(rename = "dk", default, skip_serializing_if = "Option::is_none")]
    pub delete_key: Option<String>,
    /// `d`: this client's peer data; absent on the first (read-only) poll.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PeerData>,
    /// `t`: the data timestamp (ms); a new value forces the worker to rewrite the entry.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub data_timestamp: Option<i64>,
    /// `x`: the entry's expiry interval (ms).
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub expiration_ms: Option<u64>,
    /// `p`: the packages this client publishes; the worker writes only when `d` and `p` are present.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<Package>>,
}

impl PollRequest {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, bools, numbers and arrays cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `d`: `[sessionId, clientId, isSymmetric, dtlsFingerprintBase64, joinedAtMs, reflexiveIps]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerData {
    pub session_id: SessionId,
    pub client_id: ClientId,
    pub is_symmetric: bool,
    /// Base64 of the 32-byte SHA-256 DTLS certificate fingerprint (44 characters).
    pub dtls_fingerprint_b64: String,
    pub joined_at_ms: i64,
    pub reflexive_ips: Vec<String>,
}

/// One item of `ps`: a remote peer's data plus its data timestamp `t` (7 items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePeer {
    pub data: PeerData,
    /// The `t` the remote published with; a new value means "new data, process again".
    pub data_timestamp: i64,
}

/// A package: the handshake data one peer leaves for another in its worker entry.
/// `[toSession, fromSession, ufrag, pwd, dtlsB64, ufragForRemote, pwdForRemote, createdAtMs, candidates]`.
///
/// Peer B (the initiator) fills every field; peer A's candidate-only package has the five
/// middle fields `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub to: SessionId,
    pub from: SessionId,
    pub ufrag: Option<String>,
    pub pwd: Option<String>,
    pub dtls_fingerprint_b64: Option<String>,
    pub ufrag_for_remote: Option<String>,
    pub pwd_for_remote: Option<String>,
    pub created_at_ms: i64,
    /// Candidate strings (`candidate:…` as in `RTCIceCandidate.candidate`).
    pub candidates: Vec<String>,
}

/// The worker's answer. Missing `ps`/`pk` (the leave answer is `{}`) read as empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollResponse {
    /// `ps`: the other peers in the room.
    pub peers: Vec<RemotePeer>,
    /// `pk`: packages addressed to this session (only when `d` was sent).
    pub packages: Vec<Package>,
    /// `dk`: the delete key of this client's entry (only when `d` and `p` were sent).
    pub delete_key: Option<String>,
    /// Items of `ps`/`pk` that were malformed and skipped.
    pub skipped_items: usize,
}

impl PollResponse {
    /// Parses a response body. Errors only when the body is not a JSON object or `ps`/`pk`
    /// are not arrays; malformed items inside them are skipped (see `skipped_items`).
    pub fn from_json(body: &[u8]) -> Result<Self, ProtoError> {
        let value: Value = serde_json::from_slice(body)?;
        Self::from_value(value)
    }

    fn from_value(value: Value) -> Result<Self, ProtoError> {
        let Value::Object(mut map) = value else {
            return Err(ProtoError::Json(de::Error::custom(
                "response is not an object",
            )));
        };
        let mut out = PollResponse::default();
        let items = |v: Option<Value>, key: &str| -> Result<Vec<Value>, ProtoError> {
            match v {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => Ok(a),
                Some(_) => Err(ProtoError::Json(de::Error::custom(format!(
                    "`{key}` is not an array"
                )))),
            }
        };
        for item in items(map.remove("ps"), "ps")? {
            match RemotePeer::deserialize(item) {
                Ok(p) => out.peers.push(p),
                Err(e) => {
                    tracing::debug!(error = %e, "skipping malformed peer in ps");
                    out.skipped_items += 1;
                }
            }
        }
        for item in items(map.remove("pk"), "pk")? {
            match Package::deserialize(item) {
                Ok(p) => out.packages.push(p),
                Err(e) => {
                    tracing::debug!(error = %e, "skipping malformed package in pk");
                    out.skipped_items += 1;
                }
            }
        }
        out.delete_key = match map.remove("dk") {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        Ok(out)
    }
}

impl Serialize for PollResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Raw<'a> {
            ps: &'a [RemotePeer],
            pk: &'a [Package],
            #[serde(skip_serializing_if = "Option::is_none")]
            dk: &'a Option<String>,
        }
        Raw {
            ps: &self.peers,
            pk: &self.packages,
            dk: &self.delete_key,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PollResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_value(v).map_err(de::Error::custom)
    }
}

/// JS numbers: accept any finite JSON number (a hostile client may publish `1.5`), keep
/// the integer part.
fn ms_from(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    (f.is_finite() && f.abs() < 9.0e15).then_some(f.trunc() as i64)
}

fn string_from(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn opt_string_from(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    }
}

fn strings_from(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(string_from).collect()
}

fn array_of<'a, E: de::Error>(v: &'a Value, len: usize, what: &str) -> Result<&'a [Value], E> {
    match v.as_array() {
        Some(a) if a.len() == len => Ok(a),
        _ => Err(E::custom(format!(
            "{what}: expected an array of {len} items"
        ))),
    }
}

fn peer_data_from<E: de::Error>(a: &[Value]) -> Result<PeerData, E> {
    let bad = |field: &str| E::custom(format!("peer data: bad {field}"));
    Ok(PeerData {
        session_id: SessionId::from_wire(string_from(&a[0]).ok_or_else(|| bad("session id"))?),
        client_id: ClientId::from_wire(string_from(&a[1]).ok_or_else(|| bad("client id"))?),
        is_symmetric: a[2].as_bool().ok_or_else(|| bad("is symmetric"))?,
        dtls_fingerprint_b64: string_from(&a[3]).ok_or_else(|| bad("dtls"))?,
        joined_at_ms: ms_from(&a[4]).ok_or_else(|| bad("joined at"))?,
        reflexive_ips: strings_from(&a[5]).ok_or_else(|| bad("reflexive ips"))?,
    })
}

fn serialize_peer_data<S: SerializeSeq>(seq: &mut S, d: &PeerData) -> Result<(), S::Error> {
    seq.serialize_element(&d.session_id)?;
    seq.serialize_element(&d.client_id)?;
    seq.serialize_element(&d.is_symmetric)?;
    seq.serialize_element(&d.dtls_fingerprint_b64)?;
    seq.serialize_element(&d.joined_at_ms)?;
    seq.serialize_element(&d.reflexive_ips)
}

impl Serialize for PeerData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(6))?;
        serialize_peer_data(&mut seq, self)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for PeerData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        peer_data_from(array_of(&v, 6, "peer data")?)
    }
}

impl Serialize for RemotePeer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(7))?;
        serialize_peer_data(&mut seq, &self.data)?;
        seq.serialize_element(&self.data_timestamp)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for RemotePeer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let a = array_of::<D::Error>(&v, 7, "remote peer")?;
        Ok(RemotePeer {
            data: peer_data_from(&a[..6])?,
            data_timestamp: ms_from(&a[6])
                .ok_or_else(|| de::Error::custom("remote peer: bad t"))?,
        })
    }
}

impl Serialize for Package {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(9))?;
        seq.serialize_element(&self.to)?;
        seq.serialize_element(&self.from)?;
        seq.serialize_element(&self.ufrag)?;
        seq.serialize_element(&self.pwd)?;
        seq.serialize_element(&self.dtls_fingerprint_b64)?;
        seq.serialize_element(&self.ufrag_for_remote)?;
        seq.serialize_element(&self.pwd_for_remote)?;
        seq.serialize_element(&self.created_at_ms)?;
        seq.serialize_element(&self.candidates)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Package {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let a = array_of::<D::Error>(&v, 9, "package")?;
        let bad = |field: &str| de::Error::custom(format!("package: bad {field}"));
        Ok(Package {
            to: SessionId::from_wire(string_from(&a[0]).ok_or_else(|| bad("to"))?),
            from: SessionId::from_wire(string_from(&a[1]).ok_or_else(|| bad("from"))?),
            ufrag: opt_string_from(&a[2]).ok_or_else(|| bad("ufrag"))?,
            pwd: opt_string_from(&a[3]).ok_or_else(|| bad("pwd"))?,
            dtls_fingerprint_b64: opt_string_from(&a[4]).ok_or_else(|| bad("dtls"))?,
            ufrag_for_remote: opt_string_from(&a[5]).ok_or_else(|| bad("remote ufrag"))?,
            pwd_for_remote: opt_string_from(&a[6]).ok_or_else(|| bad("remote pwd"))?,
            created_at_ms: ms_from(&a[7]).ok_or_else(|| bad("created at"))?,
            candidates: strings_from(&a[8]).ok_or_else(|| bad("candidates"))?,
        })
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
