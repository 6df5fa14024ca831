//! Client configuration. `Default` equals the P2PCF JS defaults as found in the code
//! (the README lists older values), plus this implementation's additions.

use serde::{Deserialize, Serialize};

use crate::chunk::DEFAULT_MAX_MESSAGE_SIZE;
use crate::{IceServer, ProtoError};

/// The public P2PCF worker the JS client uses by default.
pub const DEFAULT_WORKER_URL: &str = "https://p2pcf.minddrop.workers.dev";

/// Options of a P2PCF client. Field names serialize in camelCase like the JS options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Worker URL (a trailing `/` is removed by [`ClientConfig::validate`]).
    pub worker_url: String,
    /// ICE servers used when neither side is behind a symmetric NAT.
    pub stun_ice_servers: Vec<IceServer>,
    /// ICE servers used when either side is behind a symmetric NAT.
    pub turn_ice_servers: Vec<IceServer>,
    /// How often network settings are re-checked (driver side).
    pub network_change_poll_interval_ms: u64,
    /// Published entry lifetime (`x`).
    pub state_expiration_interval_ms: u64,
    /// The entry is re-published this long before it would expire.
    pub state_heartbeat_window_ms: u64,
    /// Fast polling lasts this long after the peer list changes.
    pub fast_polling_duration_ms: u64,
    pub fast_polling_rate_ms: u64,
    pub slow_polling_rate_ms: u64,
    /// Idle polling starts this long after the last peer-list change (`None` = never, the JS `Infinity`).
    pub idle_polling_after_ms: Option<u64>,
    /// Idle polling rate (`None` = stop polling, the JS `Infinity`).
    pub idle_polling_rate_ms: Option<u64>,
    /// Addition: poll this often while any peer handshake is pending.
    pub handshake_polling_rate_ms: u64,
    /// A peer not connected this long after creation is destroyed (P2PCF: 15 s).
    pub connect_timeout_ms: u64,
    /// Largest reassembled message accepted from a peer.
    pub max_message_size: usize,
    /// Polling step granularity (P2PCF: a 500 ms interval).
    pub step_interval_ms: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let stun = |u: &str| IceServer::new(u);
        let turn = |u: &str| IceServer {
            urls: vec![u.to_owned()],
            username: Some("openrelayproject".into()),
            credential: Some("openrelayproject".into()),
        };
        Self {
            worker_url: DEFAULT_WORKER_URL.into(),
            stun_ice_servers: vec![
                stun("stun:stun1.l.google.com:19302"),
                stun("stun:global.stun.twilio.com:3478"),
            ],
            turn_ice_servers: vec![
                turn("turn:openrelay.metered.ca:80"),
                turn("turn:openrelay.metered.ca:443"),
                turn("turn:openrelay.metered.ca:443?transport=tcp"),
            ],
            network_change_poll_interval_ms: 15_000,
            state_expiration_interval_ms: 120_000,
            state_heartbeat_window_ms: 30_000,
            fast_polling_duration_ms: 10_000,
            fast_polling_rate_ms: 1_500,
            slow_polling_rate_ms: 5_000,
            idle_polling_after_ms: None,
            idle_polling_rate_ms: None,
            handshake_polling_rate_ms: 250,
            connect_timeout_ms: 15_000,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            step_interval_ms: 500,
        }
    }
}

/// The worker refuses `x` above 24 h.
const MAX_EXPIRATION_MS: u64 = 24 * 60 * 60 * 1000;

impl ClientConfig {
    /// Checks ranges and normalizes the worker URL. Call once, at the edge.
    pub fn validate(mut self) -> Result<Self, ProtoError> {
        let err = |m: String| Err(ProtoError::Config(m));
        while self.worker_url.ends_with('/') {
            self.worker_url.pop();
        }
        let url = self.worker_url.to_ascii_lowercase();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= 8 {
            return err(format!(
                "workerUrl must be an http(s) URL, got {:?}",
                self.worker_url
            ));
        }
        let positive = [
            (
                "networkChangePollIntervalMs",
                self.network_change_poll_interval_ms,
            ),
            (
                "stateExpirationIntervalMs",
                self.state_expiration_interval_ms,
            ),
            ("fastPollingRateMs", self.fast_polling_rate_ms),
            ("slowPollingRateMs", self.slow_polling_rate_ms),
            ("handshakePollingRateMs", self.handshake_polling_rate_ms),
            ("connectTimeoutMs", self.connect_timeout_ms),
            ("stepIntervalMs", self.step_interval_ms),
            ("idlePollingRateMs", self.idle_polling_rate_ms.unwrap_or(1)),
        ];
        for (name, v) in positive {
            if v == 0 {
                return err(format!("{name} must be greater than 0"));
            }
        }
        if self.state_expiration_interval_ms > MAX_EXPIRATION_MS {
            return err(format!(
                "stateExpirationIntervalMs must be at most {MAX_EXPIRATION_MS} (24 h, the worker's limit)"
            ));
        }
        if self.state_heartbeat_window_ms >= self.state_expiration_interval_ms {
            return err(
                "stateHeartbeatWindowMs must be smaller than stateExpirationIntervalMs".into(),
            );
        }
        if self.max_message_size == 0 || self.max_message_size > u32::MAX as usize {
            return err("maxMessageSize must be between 1 and 4294967295 bytes".into());
        }
        for s in self.stun_ice_servers.iter().chain(&self.turn_ice_servers) {
            if s.urls.is_empty() {
                return err("an ICE server has no urls".into());
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_js_code_defaults_and_valid() {
        let c = ClientConfig::default();
        assert_eq!(c.worker_url, "https://p2pcf.minddrop.workers.dev");
        assert_eq!(
            (
                c.fast_polling_duration_ms,
                c.fast_polling_rate_ms,
                c.slow_polling_rate_ms
            ),
            (10_000, 1_500, 5_000)
        );
        assert_eq!(
            (c.idle_polling_after_ms, c.idle_polling_rate_ms),
            (None, None)
        );
        assert_eq!(
            (c.state_expiration_interval_ms, c.state_heartbeat_window_ms),
            (120_000, 30_000)
        );
        assert_eq!(c.network_change_poll_interval_ms, 15_000);
        assert_eq!(c.clone().validate().unwrap(), c);
    }

    #[test]
    fn camel_case_json_with_partial_fields() {
        let c: ClientConfig = serde_json::from_str(
            r#"{"workerUrl":"http://127.0.0.1:8787/","slowPollingRateMs":100,
                "stunIceServers":[{"urls":"stun:127.0.0.1:3478"}]}"#,
        )
        .unwrap();
        let c = c.validate().unwrap();
        assert_eq!(c.worker_url, "http://127.0.0.1:8787");
        assert_eq!(c.slow_polling_rate_ms, 100);
        assert_eq!(c.fast_polling_rate_ms, 1_500);
        assert!(serde_json::from_str::<ClientConfig>(r#"{"nope":1}"#).is_err());
    }

    #[test]
    fn validation_reports_the_bad_field() {
        let bad = |f: fn(&mut ClientConfig)| {
            let mut c = ClientConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|c| c.worker_url = "ftp://x".into()).contains("workerUrl"));
        assert!(bad(|c| c.slow_polling_rate_ms = 0).contains("slowPollingRateMs"));
        assert!(bad(|c| c.state_heartbeat_window_ms = 200_000).contains("stateHeartbeatWindowMs"));
        assert!(bad(|c| c.state_expiration_interval_ms = 25 * 3_600_000).contains("24"));
        assert!(bad(|c| c.idle_polling_rate_ms = Some(0)).contains("idlePollingRateMs"));
    }
}
