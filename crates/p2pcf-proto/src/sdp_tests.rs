use super::*;
use rand::SeedableRng;

const FP_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const FP_HEX: &str = "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F";

#[test]
fn create_sdp_matches_js_line_for_line() {
    let offer = create_sdp(true, "uf", "pw", FP_B64).unwrap();
    let want = format!(
        "v=0\r\no=- 5498186869896684180 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sctp-port:5000\r\n\
a=setup:actpass\r\na=ice-ufrag:uf\r\na=ice-pwd:pw\r\na=fingerprint:sha-256 {FP_HEX}\r\n"
    );
    assert_eq!(offer, want);
    let answer = create_sdp(false, "uf", "pw", FP_B64).unwrap();
    assert!(answer.contains("\r\na=setup:active\r\n"));
    assert!(create_sdp(true, "u", "p", "not base64!").is_err());
}

#[test]
fn synthetic_answer_appends_hole_punch_lines() {
    let ips = vec!["1.2.3.4".to_string(), "5.6.7.8".to_string()];
    let sdp = synthetic_answer("u", "p", FP_B64, &ips).unwrap();
    assert!(sdp.ends_with(&(
        "a=fingerprint:sha-256 ".to_owned()
            + FP_HEX
            + "\r\na=candidate:0 1 udp 1 1.2.3.4 30000 typ srflx\r\na=candidate:0 1 udp 2 5.6.7.8 30000 typ srflx\r\n")
    ));
}

#[test]
fn fingerprint_conversions_round_trip() {
    assert_eq!(fingerprint_b64_to_hex(FP_B64).unwrap(), FP_HEX);
    assert_eq!(fingerprint_hex_to_b64(FP_HEX).unwrap(), FP_B64);
    assert_eq!(
        fingerprint_hex_to_b64(&FP_HEX.to_lowercase().replace(':', "")).unwrap(),
        FP_B64
    );
    assert!(fingerprint_hex_to_b64("0G").is_err());
    assert!(fingerprint_hex_to_b64("abc").is_err());
    assert!(validate_fingerprint_b64(FP_B64).is_ok());
    assert!(validate_fingerprint_b64("AAEC").is_err());
}

#[test]
fn offer_credentials_and_munging() {
    let offer = create_sdp(true, "myufrag", "mypwd", FP_B64).unwrap();
    let creds = offer_credentials(&offer);
    assert_eq!(creds.ufrag.as_deref(), Some("myufrag"));
    assert_eq!(creds.pwd.as_deref(), Some("mypwd"));
    assert_eq!(creds.dtls_fingerprint_b64.as_deref(), Some(FP_B64));
    let munged = munge_ice_credentials(&offer, "U2", "P2");
    let again = offer_credentials(&munged);
    assert_eq!(
        (again.ufrag.as_deref(), again.pwd.as_deref()),
        (Some("U2"), Some("P2"))
    );
    assert_eq!(munged.len(), offer.len() - "myufragmypwd".len() + 4);
}

#[test]
fn parse_candidate_reads_fields_like_js() {
    let c = parse_candidate(
        "candidate:842163049 1 udp 1677729535 203.0.113.7 50001 typ srflx raddr 10.0.0.2 rport 50000 generation 0",
    )
    .unwrap();
    assert_eq!(c.kind, Some(CandidateType::Srflx));
    assert!(c.udp);
    assert_eq!(c.ip, "203.0.113.7");
    assert_eq!(c.port, Some(50001));
    assert_eq!(c.related_address.as_deref(), Some("10.0.0.2"));
    assert_eq!(c.related_port, Some(50000));
    assert_eq!(c.priority, Some(1677729535));
    let t = parse_candidate("a=candidate:1 1 TCP 5 10.0.0.1 9 typ host tcptype passive").unwrap();
    assert_eq!(
        (t.udp, t.tcp_type, t.kind),
        (false, Some(TcpType::Passive), Some(CandidateType::Host))
    );
    assert!(parse_candidate("candidate:1 1 udp").is_err());
    assert!(parse_candidate("").is_err());
    assert!(parse_candidate("ca").is_err());
}

#[test]
fn network_settings_detect_symmetric_nat() {
    let host = "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host generation 0";
    let s1 = "candidate:2 1 udp 1686052607 203.0.113.7 61000 typ srflx raddr 10.0.0.2 rport 50000";
    let s2 = "candidate:3 1 udp 1686052607 203.0.113.7 61001 typ srflx raddr 10.0.0.2 rport 50000";
    let s3 = "candidate:4 1 udp 1686052607 198.51.100.1 62000 typ srflx raddr 10.0.0.2 rport 50002";

    let cone = NetworkSettings::from_candidates(&[host, s1, s3]);
    assert!(cone.udp_enabled && !cone.is_symmetric);
    assert_eq!(cone.reflexive_ips, ["203.0.113.7", "198.51.100.1"]);

    let sym = NetworkSettings::from_candidates(&[host, s1, s2]);
    assert!(sym.is_symmetric);
    assert_eq!(sym.reflexive_ips, ["203.0.113.7"]);

    let none = NetworkSettings::from_candidates(&[host, "junk"]);
    assert_eq!(none, NetworkSettings::default());
}

#[test]
fn random_ids_have_js_lengths() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let s = new_session_id(&mut rng);
    assert_eq!(s.as_str().len(), 27);
    assert!(!s.as_str().contains('='));
    assert_eq!(new_ufrag(&mut rng).len(), 16);
    assert_eq!(new_pwd(&mut rng).len(), 43);
    assert_ne!(new_ufrag(&mut rng), new_ufrag(&mut rng));
}

#[test]
fn ice_credentials_with_sdp_breaking_characters_are_refused() {
    assert!(is_ice_credential("abcd"));
    assert!(is_ice_credential("ef+/gh"));
    assert!(!is_ice_credential(""));
    assert!(!is_ice_credential("ab\r\nc"));
    assert!(!is_ice_credential("x="));
}
