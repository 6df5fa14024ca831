//! Identifier newtypes. Local ids are validated on construction; ids received from the
//! network are carried as-is (other clients choose them, the worker bounds their length).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ProtoError;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A session id: base64 (no `=`) of 20 random bytes, new for every start.
    SessionId
);
string_id!(
    /// A context id: like a session id, but meant to survive restarts of the same client
    /// instance (the worker keeps one entry per context id).
    ContextId
);
string_id!(
    /// A client id chosen by the application (≥ 4 characters for local ids).
    ClientId
);

impl SessionId {
    /// Wraps a session id as received from the network (not validated).
    pub fn from_wire(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl ContextId {
    /// Wraps a context id (not validated; the worker accepts up to 64 characters).
    pub fn from_wire(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl ClientId {
    /// A local client id: at least 4 characters, at most 64 (the worker's limit).
    pub fn new(s: impl Into<String>) -> Result<Self, ProtoError> {
        let s = s.into();
        let n = s.chars().count();
        if n < 4 {
            return Err(ProtoError::InvalidClientId(
                "Client ID must be at least four characters".into(),
            ));
        }
        if s.encode_utf16().count() > 64 {
            return Err(ProtoError::InvalidClientId(
                "Client ID must be at most 64 characters".into(),
            ));
        }
        Ok(Self(s))
    }

    /// Wraps a client id as received from the network (not validated).
    pub fn from_wire(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

/// A room id: 4..=64 characters of `[A-Za-z0-9_-]`, as the worker requires.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomId(String);

impl RoomId {
    /// Validates a room id against the worker's `^[A-Za-z0-9_-]{4,64}$`.
    pub fn new(s: impl Into<String>) -> Result<Self, ProtoError> {
        let s = s.into();
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok_chars || s.len() < 4 || s.len() > 64 {
            return Err(ProtoError::InvalidRoomId(s));
        }
        Ok(Self(s))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomId {
    type Error = ProtoError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<RoomId> for String {
    fn from(r: RoomId) -> String {
        r.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_id_follows_worker_pattern() {
        for ok in ["abcd", "a-b_C9", &"x".repeat(64)] {
            assert!(RoomId::new(ok).is_ok(), "{ok}");
        }
        for bad in ["abc", "", "ab cd", "ab/cd", "ünïc", &"x".repeat(65)] {
            assert!(RoomId::new(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<RoomId>("\"no!\"").is_err());
        assert_eq!(
            serde_json::to_string(&RoomId::new("room1").unwrap()).unwrap(),
            "\"room1\""
        );
    }

    #[test]
    fn client_id_needs_four_characters() {
        assert!(ClientId::new("abc").is_err());
        assert!(ClientId::new("abcd").is_ok());
        assert!(ClientId::new("x".repeat(65)).is_err());
    }
}
