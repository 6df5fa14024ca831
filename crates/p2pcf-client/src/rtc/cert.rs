//! The DTLS certificate a client shares between all its peer connections.

use base64::Engine as _;
use rtc::crypto::SignatureScheme;
use rtc::peer_connection::certificate::CertificateParams;
use webrtc::peer_connection::RTCCertificate;

use super::RtcError;

/// An ECDSA P-256 certificate, made once per client as P2PCF does, and its SHA-256 fingerprint.
/// rcgen's default validity ends in 4096, so a long-running client never needs a new one.
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
    /// Makes a fresh self-signed ECDSA P-256 certificate (what browsers use).
    pub fn generate() -> Result<Self, RtcError> {
        let provider =
            rtc::crypto::default_provider().map_err(|e| RtcError::Certificate(e.to_string()))?;
        let params = CertificateParams::new(vec!["p2pcf".to_owned()])
            .map_err(|e| RtcError::Certificate(e.to_string()))?;
        let inner =
            RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)?;
        let fingerprint = inner
            .get_fingerprints(provider.crypto())?
            .iter()
            .find(|f| f.algorithm.eq_ignore_ascii_case("sha-256"))
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
