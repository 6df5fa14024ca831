//! The synthetic SDP P2PCF builds for the remote side, and small SDP/ICE-server conversions.

use base64::Engine as _;
use p2pcf_proto::IceServer;
use webrtc::ice_transport::ice_server::RTCIceServer;

use super::RtcError;

/// P2PCF's `createSdp`: the remote description a peer invents from the other side's ICE
/// credentials and DTLS fingerprint.
///
/// TODO: replace with `p2pcf_proto::sdp::create_sdp` once the proto crate has it.
pub(crate) fn create_sdp(
    is_offer: bool,
    ice_ufrag: &str,
    ice_pwd: &str,
    dtls_fingerprint_b64: &str,
) -> Result<String, RtcError> {
    let fingerprint = fingerprint_hex(dtls_fingerprint_b64)?;
    let setup = if is_offer { "actpass" } else { "active" };
    let lines = [
        "v=0".to_owned(),
        "o=- 5498186869896684180 2 IN IP4 127.0.0.1".to_owned(),
        "s=-".to_owned(),
        "t=0 0".to_owned(),
        "a=msid-semantic: WMS".to_owned(),
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel".to_owned(),
        "c=IN IP4 0.0.0.0".to_owned(),
        "a=mid:0".to_owned(),
        "a=sctp-port:5000".to_owned(),
        format!("a=setup:{setup}"),
        format!("a=ice-ufrag:{ice_ufrag}"),
        format!("a=ice-pwd:{ice_pwd}"),
        format!("a=fingerprint:sha-256 {fingerprint}"),
    ];
    Ok(lines.join("\r\n") + "\r\n")
}

/// Peer B's view of peer A's answer: `createSdp(false, …)` plus one srflx candidate per reflexive
/// IP of A on port 30000, so that B's checks open A's NAT mapping (P2PCF's hole punching).
pub(crate) fn remote_answer_sdp(
    ice_ufrag: &str,
    ice_pwd: &str,
    dtls_fingerprint_b64: &str,
    reflexive_ips: &[String],
) -> Result<String, RtcError> {
    let mut sdp = create_sdp(false, ice_ufrag, ice_pwd, dtls_fingerprint_b64)?;
    for (i, ip) in reflexive_ips.iter().enumerate() {
        sdp.push_str(&format!(
            "a=candidate:0 1 udp {} {ip} 30000 typ srflx\r\n",
            i + 1
        ));
    }
    Ok(sdp)
}

/// ICE credentials of a local SDP, as P2PCF reads them off its offer.
pub(crate) fn ice_credentials(sdp: &str) -> Result<(String, String), RtcError> {
    let find = |prefix: &'static str| {
        sdp.lines()
            .find_map(|l| l.trim_end().strip_prefix(prefix))
            .map(str::to_owned)
            .ok_or(RtcError::MalformedLocalSdp(prefix))
    };
    Ok((find("a=ice-ufrag:")?, find("a=ice-pwd:")?))
}

/// base64 fingerprint → `AA:BB:…` upper-case hex, checking it is a SHA-256 digest.
fn fingerprint_hex(b64: &str) -> Result<String, RtcError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| RtcError::BadFingerprint)?;
    if raw.len() != 32 {
        return Err(RtcError::BadFingerprint);
    }
    Ok(raw
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// Rejects credentials that would end up as malformed SDP lines (ice-char = ALPHA / DIGIT / "+" / "/").
pub(crate) fn check_ice_credentials(ufrag: &str, pwd: &str) -> Result<(), RtcError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    if ok(ufrag) && ok(pwd) {
        Ok(())
    } else {
        Err(RtcError::BadIceCredentials)
    }
}

pub(crate) fn to_rtc_ice_servers(servers: &[IceServer]) -> Vec<RTCIceServer> {
    servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

    #[test]
    fn create_sdp_matches_p2pcf_byte_for_byte() {
        let sdp = create_sdp(false, "uf", "pw", FP).expect("sdp");
        let expected = "v=0\r\no=- 5498186869896684180 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            a=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
            c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sctp-port:5000\r\na=setup:active\r\n\
            a=ice-ufrag:uf\r\na=ice-pwd:pw\r\na=fingerprint:sha-256 \
            AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90:AB:CD:EF:12:34:56:78:90\r\n";
        assert_eq!(sdp, expected);
        assert!(create_sdp(true, "uf", "pw", FP)
            .expect("sdp")
            .contains("a=setup:actpass\r\n"));
    }

    #[test]
    fn remote_answer_adds_one_srflx_line_per_reflexive_ip() {
        let ips = vec!["203.0.113.7".to_owned(), "2001:db8::1".to_owned()];
        let sdp = remote_answer_sdp("uf", "pw", FP, &ips).expect("sdp");
        assert!(sdp.ends_with(
            "a=candidate:0 1 udp 1 203.0.113.7 30000 typ srflx\r\n\
             a=candidate:0 1 udp 2 2001:db8::1 30000 typ srflx\r\n"
        ));
    }

    #[test]
    fn fingerprint_of_wrong_length_or_not_base64_is_refused() {
        assert!(matches!(
            create_sdp(true, "u", "p", "AAAA"),
            Err(RtcError::BadFingerprint)
        ));
        assert!(matches!(
            create_sdp(true, "u", "p", "not base64!"),
            Err(RtcError::BadFingerprint)
        ));
    }

    #[test]
    fn ice_credentials_are_read_from_the_offer() {
        let sdp = "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:secret+/\r\n";
        assert_eq!(
            ice_credentials(sdp).expect("creds"),
            ("abcd".to_owned(), "secret+/".to_owned())
        );
        assert!(ice_credentials("v=0\r\n").is_err());
    }

    #[test]
    fn ice_credentials_with_sdp_breaking_characters_are_refused() {
        assert!(check_ice_credentials("abcd", "ef+/gh").is_ok());
        assert!(check_ice_credentials("", "x").is_err());
        assert!(check_ice_credentials("ab\r\nc", "x").is_err());
        assert!(check_ice_credentials("abc", "x=").is_err());
    }
}
