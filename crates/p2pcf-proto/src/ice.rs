//! ICE server descriptions, as P2PCF's `stunIceServers` / `turnIceServers` options take them.

use serde::{Deserialize, Deserializer, Serialize};

/// One ICE server entry (`{ urls, username?, credential? }` in the JS API).
/// `urls` may be a single string in JSON (as in the JS defaults); it is read as a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IceServer {
    /// `stun:host:port` or `turn:host:port[?transport=tcp]` URLs.
    #[serde(deserialize_with = "string_or_list")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl IceServer {
    /// A server without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            urls: vec![url.into()],
            ..Self::default()
        }
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_accepts_string_or_list() {
        let one: IceServer = serde_json::from_str(r#"{"urls":"stun:a:1"}"#).unwrap();
        assert_eq!(one, IceServer::new("stun:a:1"));
        let many: IceServer =
            serde_json::from_str(r#"{"urls":["turn:a:1"],"username":"u","credential":"c"}"#)
                .unwrap();
        assert_eq!(many.urls, ["turn:a:1"]);
        assert_eq!(many.username.as_deref(), Some("u"));
    }
}
