//! The crate's error type.

use thiserror::Error;

/// Errors from validation, parsing and encoding in this crate.
#[derive(Debug, Error)]
pub enum ProtoError {
    /// The room id does not match the worker's `[A-Za-z0-9_-]{4,64}`.
    #[error("Bad room id {0}")]
    InvalidRoomId(String),
    /// The client id is shorter than 4 or longer than 64 characters.
    #[error("{0}")]
    InvalidClientId(String),
    /// A string that should be base64 is not.
    #[error("invalid base64: {0}")]
    InvalidBase64(String),
    /// A DTLS fingerprint is not 32 bytes / 64 hex digits.
    #[error("invalid DTLS fingerprint: {0}")]
    InvalidFingerprint(String),
    /// An ICE candidate line could not be parsed.
    #[error("invalid ICE candidate: {0}")]
    InvalidCandidate(String),
    /// JSON that does not have the expected shape.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
}
