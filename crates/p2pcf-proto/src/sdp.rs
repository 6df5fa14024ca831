//! SDP and ICE helpers, as P2PCF builds and reads them: the synthetic `createSdp`,
//! fingerprint conversions, hole-punch candidate lines, `parseCandidate`, network-settings
//! detection from gathered candidates, and random ids.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;

use crate::ProtoError;

/// `createSdp`: the minimal data-channel SDP P2PCF synthesizes for the remote side.
/// `is_offer` picks `a=setup:actpass` (offer) or `a=setup:active` (answer).
pub fn create_sdp(
    is_offer: bool,
    ufrag: &str,
    pwd: &str,
    dtls_fingerprint_b64: &str,
) -> Result<String, ProtoError> {
    let fingerprint = fingerprint_b64_to_hex(dtls_fingerprint_b64)?;
    let setup = if is_offer {
        "a=setup:actpass"
    } else {
        "a=setup:active"
    };
    let lines = [
        "v=0",
        "o=- 5498186869896684180 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=msid-semantic: WMS",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=sctp-port:5000",
        setup,
        &format!("a=ice-ufrag:{ufrag}"),
        &format!("a=ice-pwd:{pwd}"),
        &format!("a=fingerprint:sha-256 {fingerprint}"),
    ];
    Ok(lines.join("\r\n") + "\r\n")
}

/// Peer B's synthetic answer for peer A: `createSdp(false, …)` plus one
/// [`hole_punch_candidates`] line per reflexive IP of A.
pub fn synthetic_answer(
    ufrag_for_remote: &str,
    pwd_for_remote: &str,
    remote_dtls_b64: &str,
    remote_reflexive_ips: &[String],
) -> Result<String, ProtoError> {
    let mut sdp = create_sdp(false, ufrag_for_remote, pwd_for_remote, remote_dtls_b64)?;
    sdp.push_str(&hole_punch_candidates(remote_reflexive_ips));
    Ok(sdp)
}

/// `a=candidate:0 1 udp {i+1} {ip} 30000 typ srflx\r\n` for each reflexive IP.
pub fn hole_punch_candidates(ips: &[String]) -> String {
    ips.iter()
        .enumerate()
        .map(|(i, ip)| format!("a=candidate:0 1 udp {} {ip} 30000 typ srflx\r\n", i + 1))
        .collect()
}

/// Base64 of the raw fingerprint bytes → `AA:BB:…` upper-case hex (any length, like the JS).
pub fn fingerprint_b64_to_hex(b64: &str) -> Result<String, ProtoError> {
    let bytes = STANDARD
        .decode(b64)
        .or_else(|_| STANDARD_NO_PAD.decode(b64))
        .map_err(|e| ProtoError::InvalidBase64(format!("{b64:?}: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// `AA:BB:…` (either case, colons optional) → padded base64 of the raw bytes (44 characters
/// for a SHA-256 fingerprint).
pub fn fingerprint_hex_to_b64(hex: &str) -> Result<String, ProtoError> {
    let digits: Vec<u8> = hex.bytes().filter(|b| *b != b':').collect();
    if digits.is_empty() || digits.len() % 2 != 0 {
        return Err(ProtoError::InvalidFingerprint(hex.to_owned()));
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let bytes = digits
        .chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| ProtoError::InvalidFingerprint(hex.to_owned()))?;
    Ok(STANDARD.encode(bytes))
}

/// Checks a published fingerprint: base64 of exactly 32 bytes.
pub fn validate_fingerprint_b64(b64: &str) -> Result<(), ProtoError> {
    match STANDARD.decode(b64) {
        Ok(b) if b.len() == 32 && b64.len() == 44 => Ok(()),
        _ => Err(ProtoError::InvalidFingerprint(b64.to_owned())),
    }
}

/// The ICE credentials and fingerprint of a local offer, read as P2PCF's
/// `enqueuePackageFromOffer` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferCredentials {
    pub ufrag: Option<String>,
    pub pwd: Option<String>,
    pub dtls_fingerprint_b64: Option<String>,
}

/// Extracts `a=ice-ufrag`, `a=ice-pwd` and `a=fingerprint` (last one wins, as in the JS).
pub fn offer_credentials(sdp: &str) -> OfferCredentials {
    let mut out = OfferCredentials {
        ufrag: None,
        pwd: None,
        dtls_fingerprint_b64: None,
    };
    for line in sdp.split("\r\n").flat_map(|l| l.split('\n')) {
        let line = line.trim_end_matches('\r');
        if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
            out.ufrag = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("a=ice-pwd:") {
            out.pwd = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("a=fingerprint:") {
            // "sha-256 AA:BB:…"
            if let Some(hex) = v.split_once(' ').map(|(_, h)| h.trim()) {
                out.dtls_fingerprint_b64 = fingerprint_hex_to_b64(hex).ok();
            }
        }
    }
    out
}

/// Peer A's `sdpTransform`: replaces its answer's `a=ice-ufrag`/`a=ice-pwd` with the values
/// peer B chose for it.
pub fn munge_ice_credentials(sdp: &str, ufrag: &str, pwd: &str) -> String {
    sdp.split("\r\n")
        .map(|l| {
            if l.starts_with("a=ice-ufrag") {
                format!("a=ice-ufrag:{ufrag}")
            } else if l.starts_with("a=ice-pwd") {
                format!("a=ice-pwd:{pwd}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Whether `s` can be an ICE ufrag or password in an SDP line: non-empty `ice-char`s
/// (ALPHA / DIGIT / "+" / "/", RFC 8839). Anything else would break the synthetic SDP.
pub fn is_ice_credential(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Candidate type (`CANDIDATE_TYPES`); `prflx` and unknown types are `None` in the JS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType {
    Host,
    Srflx,
    Relay,
}

/// TCP candidate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpType {
    Active,
    Passive,
    So,
}

/// A candidate as the JS `parseCandidate` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCandidate {
    pub kind: Option<CandidateType>,
    /// `true` for udp (the JS maps udp→0, anything else→1).
    pub udp: bool,
    pub ip: String,
    /// `None` where the JS `parseInt` gives NaN.
    pub port: Option<u32>,
    pub related_address: Option<String>,
    pub related_port: Option<u32>,
    pub tcp_type: Option<TcpType>,
    pub priority: Option<u32>,
}

/// Parses `a=candidate:…` or `candidate:…` (any 10-character prefix, like the JS).
pub fn parse_candidate(line: &str) -> Result<ParsedCandidate, ProtoError> {
    let rest = match line.strip_prefix("a=candidate:") {
        Some(r) => r,
        None => line
            .get(10..)
            .ok_or_else(|| ProtoError::InvalidCandidate(line.to_owned()))?,
    };
    let parts: Vec<&str> = rest.split(' ').collect();
    if parts.len() < 8 {
        return Err(ProtoError::InvalidCandidate(line.to_owned()));
    }
    let int = |s: &str| js_parse_int(s);
    let mut c = ParsedCandidate {
        kind: match parts[7] {
            "host" => Some(CandidateType::Host),
            "srflx" => Some(CandidateType::Srflx),
            "relay" => Some(CandidateType::Relay),
            _ => None,
        },
        udp: parts[2].eq_ignore_ascii_case("udp"),
        ip: parts[4].to_owned(),
        port: int(parts[5]),
        related_address: None,
        related_port: None,
        tcp_type: None,
        priority: int(parts[3]),
    };
    let mut i = 8;
    while i < parts.len() {
        let value = parts.get(i + 1).copied();
        match parts[i] {
            "raddr" => c.related_address = value.map(str::to_owned),
            "rport" => c.related_port = value.and_then(int),
            "tcptype" => {
                c.tcp_type = match value {
                    Some("active") => Some(TcpType::Active),
                    Some("passive") => Some(TcpType::Passive),
                    Some("so") => Some(TcpType::So),
                    _ => None,
                }
            }
            _ => {}
        }
        i += 2;
    }
    Ok(c)
}

/// `parseInt(s, 10)` for non-negative values: leading digits, else `None` (NaN).
fn js_parse_int(s: &str) -> Option<u32> {
    let s = s.trim_start();
    let digits: &str = &s[..s.bytes().take_while(u8::is_ascii_digit).count()];
    digits.parse().ok()
}

/// What `_getNetworkSettings` derives from the candidates of a throw-away connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSettings {
    /// Any srflx candidate was gathered.
    pub udp_enabled: bool,
    /// Two srflx candidates share a related port but differ in port.
    pub is_symmetric: bool,
    /// The srflx addresses, first-seen order, no duplicates.
    pub reflexive_ips: Vec<String>,
}

impl NetworkSettings {
    /// Derives the settings from candidate strings (unparsable ones are ignored).
    pub fn from_candidates<S: AsRef<str>>(candidates: &[S]) -> Self {
        let parsed: Vec<ParsedCandidate> = candidates
            .iter()
            .filter_map(|c| parse_candidate(c.as_ref()).ok())
            .collect();
        let srflx: Vec<&ParsedCandidate> = parsed
            .iter()
            .filter(|c| c.kind == Some(CandidateType::Srflx))
            .collect();
        let mut out = NetworkSettings::default();
        for (i, c) in srflx.iter().enumerate() {
            out.udp_enabled = true;
            if !out.reflexive_ips.contains(&c.ip) {
                out.reflexive_ips.push(c.ip.clone());
            }
            let symmetric_pair = srflx.iter().enumerate().any(|(j, d)| {
                i != j
                    && c.related_port.is_some()
                    && c.related_port == d.related_port
                    && c.port != d.port
            });
            out.is_symmetric |= symmetric_pair;
        }
        out
    }
}

/// `randomstring(len)`: base64 (no `=`) of `len` random bytes.
pub fn random_id(rng: &mut impl rand::RngCore, len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    STANDARD_NO_PAD.encode(bytes)
}

/// A new session or context id (20 random bytes).
pub fn new_session_id(rng: &mut impl rand::RngCore) -> crate::SessionId {
    crate::SessionId::from_wire(random_id(rng, 20))
}

/// A new ICE ufrag (12 random bytes → 16 characters).
pub fn new_ufrag(rng: &mut impl rand::RngCore) -> String {
    random_id(rng, 12)
}

/// A new ICE password (32 random bytes → 43 characters).
pub fn new_pwd(rng: &mut impl rand::RngCore) -> String {
    random_id(rng, 32)
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
