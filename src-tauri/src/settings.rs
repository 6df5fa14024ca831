//! The app's settings: what the settings screen edits, what tauri-plugin-store persists, and how
//! they become a [`ClientConfig`]. Pure (no Tauri, no I/O) so every rule is unit-tested.
//!
//! [`Settings::validate`] checks the WHOLE object and returns every problem at once, so the UI
//! can show them all and nothing is ever half-saved.

use std::path::PathBuf;

use p2pcf_proto::config::ClientConfig;
use p2pcf_proto::IceServer;
use serde::{Deserialize, Serialize};

use crate::video_settings::{self, VideoFields, VideoSourceKind};

/// The embedded server's default port (the port `wrangler dev` and `p2pcf serve` use).
pub const DEFAULT_PORT: u16 = 8787;

/// Polling rates accepted by the settings screen, in milliseconds.
const MIN_POLL_MS: u64 = 100;
const MAX_POLL_MS: u64 = 60_000;

/// Where signalling happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum SignallingMode {
    /// The app runs `p2pcf-server` in-process (or reuses one already on the port).
    #[default]
    Embedded,
    /// A P2PCF worker (Cloudflare) or a `p2pcf serve` elsewhere, at `worker_url`.
    Worker,
}

/// One TURN server as the settings screen edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnServer {
    pub url: String,
    pub username: String,
    pub credential: String,
}

/// Everything the user can set. Serialized in camelCase (the UI and the store file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Settings {
    pub signalling: SignallingMode,
    /// Used in [`SignallingMode::Worker`].
    pub worker_url: String,
    pub stun_servers: Vec<String>,
    pub turn_servers: Vec<TurnServer>,
    pub fast_polling_rate_ms: u64,
    pub slow_polling_rate_ms: u64,
    /// The embedded server's port.
    pub port: u16,
    /// Bind the embedded server on every interface (0.0.0.0) so others on the LAN can use it.
    pub lan: bool,
    /// Where received files go; empty = the Downloads directory.
    pub download_dir: String,
    /// What "Enable Video" sends.
    pub video_source: VideoSourceKind,
    /// The camera's device path; empty = the first camera found.
    pub camera: String,
    pub video_width: u32,
    pub video_height: u32,
    pub video_fps: u32,
    /// Target bitrate of the H.264 encoder, kbit/s.
    pub video_kbps: u32,
}

impl Default for Settings {
    fn default() -> Self {
        let js = ClientConfig::default();
        Self {
            signalling: SignallingMode::Embedded,
            worker_url: js.worker_url.clone(),
            stun_servers: js
                .stun_ice_servers
                .iter()
                .flat_map(|s| s.urls.clone())
                .collect(),
            turn_servers: js
                .turn_ice_servers
                .iter()
                .flat_map(|s| {
                    s.urls.iter().map(|url| TurnServer {
                        url: url.clone(),
                        username: s.username.clone().unwrap_or_default(),
                        credential: s.credential.clone().unwrap_or_default(),
                    })
                })
                .collect(),
            fast_polling_rate_ms: js.fast_polling_rate_ms,
            slow_polling_rate_ms: js.slow_polling_rate_ms,
            port: DEFAULT_PORT,
            lan: false,
            download_dir: String::new(),
            video_source: VideoSourceKind::Camera,
            camera: String::new(),
            video_width: 640,
            video_height: 480,
            video_fps: 30,
            video_kbps: 1500,
        }
    }
}

/// One refused value: which field and why, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl Settings {
    /// Checks every field; returns the settings with whitespace trimmed, or every problem found.
    pub fn validate(mut self) -> Result<Settings, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut refuse = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            })
        };
        self.worker_url = self.worker_url.trim().trim_end_matches('/').to_owned();
        // The worker URL is checked in both modes: a saved value must always be usable.
        if let Err(message) = check_http_url(&self.worker_url) {
            refuse("workerUrl", message);
        }
        for (i, stun) in self.stun_servers.iter_mut().enumerate() {
            *stun = stun.trim().to_owned();
            if let Err(message) = check_ice_url(stun, &["stun:", "stuns:"]) {
                refuse(&format!("stunServers[{i}]"), message);
            }
        }
        for (i, turn) in self.turn_servers.iter_mut().enumerate() {
            turn.url = turn.url.trim().to_owned();
            if let Err(message) = check_ice_url(&turn.url, &["turn:", "turns:"]) {
                refuse(&format!("turnServers[{i}].url"), message);
            }
            if turn.username.is_empty() || turn.credential.is_empty() {
                refuse(
                    &format!("turnServers[{i}]"),
                    "a TURN server needs a username and a credential".into(),
                );
            }
        }
        for (field, value) in [
            ("fastPollingRateMs", self.fast_polling_rate_ms),
            ("slowPollingRateMs", self.slow_polling_rate_ms),
        ] {
            if !(MIN_POLL_MS..=MAX_POLL_MS).contains(&value) {
                refuse(
                    field,
                    format!("must be between {MIN_POLL_MS} and {MAX_POLL_MS} ms"),
                );
            }
        }
        if self.fast_polling_rate_ms > self.slow_polling_rate_ms {
            refuse(
                "fastPollingRateMs",
                "the fast polling rate must not be slower than the slow one".into(),
            );
        }
        if self.port < 1024 {
            refuse("port", "use a port between 1024 and 65535".into());
        }
        self.download_dir = self.download_dir.trim().to_owned();
        if !self.download_dir.is_empty() && !PathBuf::from(&self.download_dir).is_absolute() {
            refuse(
                "downloadDir",
                "the download folder must be an absolute path (or empty for Downloads)".into(),
            );
        }
        self.camera = self.camera.trim().to_owned();
        for (field, message) in video_settings::problems(&VideoFields {
            camera: &self.camera,
            width: self.video_width,
            height: self.video_height,
            fps: self.video_fps,
            kbps: self.video_kbps,
        }) {
            refuse(field, message);
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// The client configuration for a join through `worker_url` (the embedded server's URL or
    /// the configured worker). Other options keep the P2PCF defaults.
    pub fn client_config(&self, worker_url: &str) -> ClientConfig {
        ClientConfig {
            worker_url: worker_url.to_owned(),
            stun_ice_servers: self.stun_servers.iter().map(IceServer::new).collect(),
            turn_ice_servers: self
                .turn_servers
                .iter()
                .map(|t| IceServer {
                    urls: vec![t.url.clone()],
                    username: Some(t.username.clone()),
                    credential: Some(t.credential.clone()),
                })
                .collect(),
            fast_polling_rate_ms: self.fast_polling_rate_ms,
            slow_polling_rate_ms: self.slow_polling_rate_ms,
            ..ClientConfig::default()
        }
    }
}

fn check_http_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|e| format!("{value:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{value:?} must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} has no host"));
    }
    Ok(())
}

fn check_ice_url(value: &str, schemes: &[&str]) -> Result<(), String> {
    let Some(rest) = schemes.iter().find_map(|s| value.strip_prefix(s)) else {
        return Err(format!(
            "{value:?} must start with {}",
            schemes.join(" or ")
        ));
    };
    let host = rest.split(['?', ':']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{value:?} has no valid host"));
    }
    Ok(())
}

/// Checks a room id or display name from the join screen: 4 to 64 characters of
/// `A-Z a-z 0-9 _ -` (the worker's room rule). `what` names the field in the message.
pub fn check_join_field(what: &str, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n < 4 {
        return Err(format!("The {what} needs at least 4 characters."));
    }
    if n > 64 {
        return Err(format!("The {what} can have at most 64 characters."));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "The {what} may only use letters A-Z a-z, digits, _ and - (not {bad:?})."
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields(result: Result<Settings, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn defaults_are_valid_and_match_the_js_client() {
        let settings = Settings::default().validate().unwrap();
        assert_eq!(settings.signalling, SignallingMode::Embedded);
        assert_eq!(settings.port, 8787);
        let config = settings.client_config("http://127.0.0.1:8787");
        let js = ClientConfig::default();
        assert_eq!(config.stun_ice_servers, js.stun_ice_servers);
        assert_eq!(config.turn_ice_servers.len(), js.turn_ice_servers.len());
        assert_eq!(config.slow_polling_rate_ms, js.slow_polling_rate_ms);
        assert_eq!(config.worker_url, "http://127.0.0.1:8787");
        config.validate().unwrap();
    }

    #[test]
    fn worker_url_must_be_http_or_https_with_a_host() {
        for bad in [
            "",
            "not a url",
            "ftp://x.example",
            "http://",
            "ws://x.example",
        ] {
            let s = Settings {
                worker_url: bad.into(),
                ..Settings::default()
            };
            assert_eq!(fields(s.validate()), ["workerUrl"], "{bad:?}");
        }
        let s = Settings {
            worker_url: "  https://w.example.dev/ ".into(),
            ..Settings::default()
        };
        assert_eq!(s.validate().unwrap().worker_url, "https://w.example.dev");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let s = Settings {
            worker_url: "nope".into(),
            stun_servers: vec!["stun:ok.example:3478".into(), "http://x".into()],
            turn_servers: vec![TurnServer {
                url: "stun:wrong".into(),
                username: String::new(),
                credential: "c".into(),
            }],
            fast_polling_rate_ms: 10,
            slow_polling_rate_ms: 1_000_000,
            port: 80,
            download_dir: "relative/dir".into(),
            video_width: 641,
            video_fps: 0,
            ..Settings::default()
        };
        assert_eq!(
            fields(s.validate()),
            [
                "workerUrl",
                "stunServers[1]",
                "turnServers[0].url",
                "turnServers[0]",
                "fastPollingRateMs",
                "slowPollingRateMs",
                "port",
                "downloadDir",
                "videoWidth",
                "videoFps"
            ]
        );
    }

    #[test]
    fn fast_rate_may_not_exceed_slow_rate() {
        let s = Settings {
            fast_polling_rate_ms: 6000,
            slow_polling_rate_ms: 5000,
            ..Settings::default()
        };
        assert_eq!(fields(s.validate()), ["fastPollingRateMs"]);
    }

    #[test]
    fn settings_round_trip_through_json_and_refuse_unknown_fields() {
        let s = Settings {
            signalling: SignallingMode::Worker,
            lan: true,
            port: 9000,
            ..Settings::default()
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["signalling"], "worker");
        assert_eq!(json["port"], 9000);
        let back: Settings = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<Settings>(r#"{"bogus":1}"#).is_err());
        // Missing fields take their defaults (older store files keep working).
        let partial: Settings = serde_json::from_str(r#"{"port":9001}"#).unwrap();
        assert_eq!(partial.port, 9001);
        assert_eq!(partial.video_source, VideoSourceKind::Camera);
        assert_eq!((partial.video_width, partial.video_height), (640, 480));
        let pattern: Settings = serde_json::from_str(r#"{"videoSource":"test-pattern"}"#).unwrap();
        assert_eq!(pattern.video_source, VideoSourceKind::TestPattern);
        assert!(serde_json::from_str::<Settings>(r#"{"videoSource":"webcam"}"#).is_err());
        assert_eq!(partial.signalling, SignallingMode::Embedded);
    }

    #[test]
    fn join_fields_follow_the_worker_rules() {
        assert!(check_join_field("room id", "my-room_1").is_ok());
        assert!(check_join_field("room id", "abc").is_err());
        assert!(check_join_field("room id", &"a".repeat(65)).is_err());
        assert!(check_join_field("room id", &"a".repeat(64)).is_ok());
        let e = check_join_field("display name", "bad name").unwrap_err();
        assert!(e.contains("display name") && e.contains("' '"), "{e}");
    }
}
