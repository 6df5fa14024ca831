//! The DTLS certificate a client shares between all its peer connections.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use webrtc::peer_connection::certificate::RTCCertificate;

use super::RtcError;

/// How long a generated certificate stays valid. webrtc-rs refuses expired certificates when a
/// peer connection is created, so a client running longer than this must make a new one.
const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// An ECDSA P-256 certificate, made once per client as P2PCF does, and its SHA-256 fingerprint.
#[derive(Clone)]
pub struct LocalCertificate {
    inner: RTCCertificate,
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for LocalCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCertificate")
            .field("fingerprint", &self.fingerprint_b64())
            .finish_non_exhaustive()
    }
}

impl LocalCertificate {
    /// Makes a fresh self-signed ECDSA P-256 certificate.
    pub fn generate() -> Result<Self, RtcError> {
        // rcgen's default key algorithm is ECDSA P-256 with SHA-256, the one browsers use.
        let dtls = webrtc::dtls::crypto::Certificate::generate_self_signed(vec!["p2pcf".into()])
            .map_err(|e| RtcError::Webrtc(webrtc::Error::new(e.to_string())))?;
        let inner = RTCCertificate::from_existing(dtls, SystemTime::now() + VALIDITY);
        let fingerprint = inner
            .get_fingerprints()
            .first()
            .and_then(|f| parse_hex_fingerprint(&f.value))
            .ok_or(RtcError::BadFingerprint)?;
        Ok(Self { inner, fingerprint })
    }

    /// The raw 32-byte SHA-256 fingerprint of the certificate.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The fingerprint as P2PCF publishes it: base64 (with padding, 44 characters) of the raw bytes.
    pub fn fingerprint_b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.fingerprint)
    }

    pub(crate) fn rtc(&self) -> &RTCCertificate {
        &self.inner
    }
}

/// `aa:bb:…` (either case) → 32 bytes.
pub(crate) fn parse_hex_fingerprint(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut parts = hex.split(':');
    for byte in out.iter_mut() {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_publishes_a_44_char_fingerprint() {
        let cert = LocalCertificate::generate().expect("certificate");
        let b64 = cert.fingerprint_b64();
        assert_eq!(b64.len(), 44);
        let back = base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .expect("base64");
        assert_eq!(back, cert.fingerprint());
    }

    #[test]
    fn hex_fingerprint_needs_exactly_32_bytes() {
        let ok = vec!["AB"; 32].join(":");
        assert_eq!(parse_hex_fingerprint(&ok), Some([0xab; 32]));
        assert_eq!(parse_hex_fingerprint(&vec!["ab"; 31].join(":")), None);
        assert_eq!(parse_hex_fingerprint(&vec!["ab"; 33].join(":")), None);
        assert_eq!(parse_hex_fingerprint(&vec!["zz"; 32].join(":")), None);
    }
}
