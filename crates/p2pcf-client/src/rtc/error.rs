//! The adapter's error type.

/// Errors of the webrtc-rs adapter.
#[derive(Debug, thiserror::Error)]
pub enum RtcError {
    /// webrtc-rs refused an operation (bad SDP, closed connection, …).
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
    /// A DTLS fingerprint was not base64 of exactly 32 bytes.
    #[error("invalid DTLS fingerprint: expected base64 of a 32-byte SHA-256 digest")]
    BadFingerprint,
    /// The DTLS certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The ICE username fragment or password is empty or not made of ICE characters.
    #[error("invalid ICE credentials")]
    BadIceCredentials,
    /// The local offer that webrtc-rs produced lacks a line we need.
    #[error("local offer has no `{0}` line")]
    MalformedLocalSdp(&'static str),
    /// `send` was called before the data channel opened.
    #[error("data channel is not open yet")]
    NotOpen,
    /// A session description could not be used.
    #[error("session description: {0}")]
    Sdp(String),
    /// Local sockets or interfaces could not be set up.
    #[error("network: {0}")]
    Io(String),
    /// The data channel or the peer connection is closed.
    #[error("data channel is closed")]
    Closed,
}

impl From<p2pcf_proto::ProtoError> for RtcError {
    fn from(e: p2pcf_proto::ProtoError) -> Self {
        RtcError::Sdp(e.to_string())
    }
}
