//! Signals over the data channel, as P2PCF frames them after the first connection: an
//! 8-byte header of u16 LE words `0x82ab 0x81cd 0x1295 0xa1cb`, then the UTF-8 JSON of a
//! simple-peer signal, padded with one `\0` to an even length.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The header words.
pub const HEADER_WORDS: [u16; 4] = [0x82ab, 0x81cd, 0x1295, 0xa1cb];
/// The header as bytes.
pub const HEADER: [u8; 8] = [0xab, 0x82, 0xcd, 0x81, 0x95, 0x12, 0xcb, 0xa1];

/// A simple-peer (tiny-simple-peer 10.1.2) signal. Serializes exactly like the JS
/// `JSON.stringify` of the objects simple-peer emits (`type` first).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Signal {
    /// `{type:'offer', sdp}` (only the initiator, peer B, makes offers).
    Offer { sdp: String },
    /// `{type:'answer', sdp}`.
    Answer { sdp: String },
    /// `{type:'candidate', candidate:{candidate, sdpMLineIndex, sdpMid}}` (a trickled candidate).
    Candidate { candidate: IceCandidate },
    /// `{type:'renegotiate', renegotiate:true}`: the non-initiator asks for a new offer.
    Renegotiate { renegotiate: bool },
    /// `{type:'transceiverRequest', transceiverRequest:{kind, init}}`.
    #[serde(rename_all = "camelCase")]
    TransceiverRequest {
        transceiver_request: TransceiverRequest,
    },
}

/// `RTCIceCandidateInit` as simple-peer copies it (`null`s kept, as JSON.stringify does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default)]
    pub sdp_mid: Option<String>,
}

/// The payload of a transceiver request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransceiverRequest {
    /// `"audio"` or `"video"`.
    pub kind: String,
    /// `RTCRtpTransceiverInit`, passed through untouched (omitted when undefined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Value>,
}

/// Why a signal frame could not be read.
#[derive(Debug, Error)]
pub enum SignalError {
    /// The payload is not JSON (simple-peer would then destroy the peer).
    #[error("signal payload is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON without `sdp`, `candidate`, `renegotiate` or `transceiverRequest`.
    #[error("signal has no known field")]
    Unknown,
}

impl Signal {
    /// The JSON text, byte-identical to the JS for the same signal.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a signal as simple-peer's `signal()` does: by which fields are present
    /// (`renegotiate`, `transceiverRequest`, `candidate`, `sdp`), not by `type`.
    pub fn from_json(text: &str) -> Result<Self, SignalError> {
        let v: Value = serde_json::from_str(text)?;
        let truthy = |v: Option<&Value>| match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(_) => true,
        };
        if let Some(sdp) = v
            .get("sdp")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            return match v.get("type").and_then(Value::as_str) {
                Some("offer") => Ok(Signal::Offer {
                    sdp: sdp.to_owned(),
                }),
                Some("answer") => Ok(Signal::Answer {
                    sdp: sdp.to_owned(),
                }),
                _ => Err(SignalError::Unknown),
            };
        }
        if truthy(v.get("candidate")) {
            let c = v.get("candidate").cloned().unwrap_or(Value::Null);
            return Ok(Signal::Candidate {
                candidate: serde_json::from_value(c)?,
            });
        }
        if truthy(v.get("renegotiate")) {
            return Ok(Signal::Renegotiate { renegotiate: true });
        }
        if truthy(v.get("transceiverRequest")) {
            let t = v.get("transceiverRequest").cloned().unwrap_or(Value::Null);
            return Ok(Signal::TransceiverRequest {
                transceiver_request: serde_json::from_value(t)?,
            });
        }
        Err(SignalError::Unknown)
    }
}

/// Frames signal JSON: header, UTF-8 text, one `\0` if needed for an even length.
/// (The frame may still need chunking if long: see [`crate::chunk::needs_chunking`].)
pub fn encode_frame(json: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER.len() + json.len() + 1);
    buf.extend_from_slice(&HEADER);
    buf.extend_from_slice(json.as_bytes());
    if buf.len() % 2 != 0 {
        buf.push(0);
    }
    buf
}

/// Frames a signal.
pub fn encode(signal: &Signal) -> Vec<u8> {
    encode_frame(&signal.to_json())
}

/// A reassembled data-channel message, classified as the JS receiver does.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A signal frame; the payload text (one trailing `\0` removed) and its parse.
    Signal {
        text: String,
        signal: Result<Signal, SignalError>,
    },
    /// Anything else: an application message (`msg` event).
    Application(&'a [u8]),
}

/// Whether `msg` starts with the signal header.
pub fn is_signal_frame(msg: &[u8]) -> bool {
    msg.len() >= HEADER.len() && msg[..HEADER.len()] == HEADER
}

/// Classifies a complete (reassembled) message. Invalid UTF-8 is decoded lossily, like
/// the JS `TextDecoder`.
pub fn classify(msg: &[u8]) -> Incoming<'_> {
    if !is_signal_frame(msg) {
        return Incoming::Application(msg);
    }
    let mut text = String::from_utf8_lossy(&msg[HEADER.len()..]).into_owned();
    if text.ends_with('\0') {
        text.pop();
    }
    let signal = Signal::from_json(&text);
    Incoming::Signal { text, signal }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_json_matches_simple_peer_shapes() {
        let c = Signal::Candidate {
            candidate: IceCandidate {
                candidate: "candidate:1 1 udp 1 1.2.3.4 5 typ host".into(),
                sdp_m_line_index: Some(0),
                sdp_mid: None,
            },
        };
        assert_eq!(
            c.to_json(),
            r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMLineIndex":0,"sdpMid":null}}"#
        );
        assert_eq!(
            Signal::Renegotiate { renegotiate: true }.to_json(),
            r#"{"type":"renegotiate","renegotiate":true}"#
        );
    }

    #[test]
    fn decoding_follows_fields_like_simple_peer() {
        // P2PCF's own local candidate shape has no `type`.
        let s = Signal::from_json(r#"{"candidate":{"candidate":"c","sdpMLineIndex":0}}"#).unwrap();
        assert!(matches!(s, Signal::Candidate { ref candidate } if candidate.sdp_mid.is_none()));
        assert!(matches!(Signal::from_json("{}"), Err(SignalError::Unknown)));
        assert!(matches!(
            Signal::from_json("nope"),
            Err(SignalError::Json(_))
        ));
        assert!(Signal::from_json(r#"{"candidate":5}"#).is_err());
        assert!(Signal::from_json(r#"{"type":"rollback","sdp":"x"}"#).is_err());
    }

    #[test]
    fn classify_separates_signals_from_application_data() {
        let frame = encode(&Signal::Answer {
            sdp: "v=0\r\n".into(),
        });
        assert_eq!(frame.len() % 2, 0);
        match classify(&frame) {
            Incoming::Signal { signal, .. } => {
                assert_eq!(
                    signal.unwrap(),
                    Signal::Answer {
                        sdp: "v=0\r\n".into()
                    }
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(b"hello"),
            Incoming::Application(b"hello")
        ));
        assert!(matches!(classify(&HEADER[..7]), Incoming::Application(_)));
        let junk = [&HEADER[..], b"\xff\xfe{"].concat();
        assert!(matches!(
            classify(&junk),
            Incoming::Signal { signal: Err(_), .. }
        ));
    }
}
