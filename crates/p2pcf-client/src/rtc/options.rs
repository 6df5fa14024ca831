//! What the webrtc-rs `SettingEngine` needs, and the one-`API`-per-connection builder.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::{APIBuilder, API};
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice::udp_network::{EphemeralUDP, UDPNetwork};
use webrtc::interceptor::registry::Registry;

use super::RtcError;

/// A predicate on local IP addresses: `true` keeps the address for ICE gathering.
pub type IpFilter = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// A predicate on local interface names: `true` keeps the interface for ICE gathering.
pub type InterfaceFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// P2PCF's `sdpTransform` option: sees each local SDP (offer or answer) and returns what this
/// side publishes from it. webrtc-rs rejects munged local descriptions, so unlike in a browser
/// the rewrite does not change the local connection itself.
pub type SdpTransform = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Default send high-water mark: `PeerLink::send` waits while more than this is buffered.
pub const DEFAULT_SEND_HIGH_WATER_MARK: usize = 1024 * 1024;

/// Transport settings for every peer connection of a client. Nothing here is P2PCF policy.
///
/// mDNS host candidates are always off (P2PCF peers publish plain addresses) and peer-reflexive
/// candidates are accepted at once (webrtc-rs otherwise waits a second before nominating them,
/// and with P2PCF's synthetic descriptions the first working pair is usually peer-reflexive).
#[derive(Clone)]
pub struct RtcOptions {
    /// Offer loopback host candidates (needed for two peers on one machine).
    pub include_loopback: bool,
    /// Bind ICE sockets only inside this inclusive UDP port range.
    pub udp_port_range: Option<(u16, u16)>,
    /// Gather on IPv4 only (skip IPv6 host candidates).
    pub ipv4_only: bool,
    /// Keep only local addresses this accepts.
    pub ip_filter: Option<IpFilter>,
    /// Keep only interfaces this accepts.
    pub interface_filter: Option<InterfaceFilter>,
    /// `send` waits while the data channel holds more than this many unsent/unacknowledged bytes.
    pub send_high_water_mark: usize,
    /// Peer-connection option `iceTransportPolicy: 'relay'`: use TURN relays only.
    pub relay_only: bool,
    /// P2PCF's `sdpTransform` hook (the identity when `None`).
    pub sdp_transform: Option<SdpTransform>,
    /// Receive-side flow control: links stop reading while the application holds more than
    /// this many received bytes (see [`super::ReceiveBudget`]). `None`: unlimited. A joined
    /// client shares one budget between its links.
    pub receive_budget: Option<std::sync::Arc<super::ReceiveBudget>>,
}

/// Default receive budget of a joined client.
pub const DEFAULT_RECEIVE_BUDGET: usize = 64 * 1024 * 1024;

impl Default for RtcOptions {
    fn default() -> Self {
        Self {
            include_loopback: true,
            udp_port_range: None,
            ipv4_only: false,
            ip_filter: None,
            interface_filter: None,
            send_high_water_mark: DEFAULT_SEND_HIGH_WATER_MARK,
            relay_only: false,
            sdp_transform: None,
            receive_budget: None,
        }
    }
}

impl std::fmt::Debug for RtcOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtcOptions")
            .field("include_loopback", &self.include_loopback)
            .field("udp_port_range", &self.udp_port_range)
            .field("ipv4_only", &self.ipv4_only)
            .field("ip_filter", &self.ip_filter.is_some())
            .field("interface_filter", &self.interface_filter.is_some())
            .field("send_high_water_mark", &self.send_high_water_mark)
            .field("relay_only", &self.relay_only)
            .field("sdp_transform", &self.sdp_transform.is_some())
            .field(
                "receive_budget",
                &self.receive_budget.as_ref().map(|b| b.limit()),
            )
            .finish()
    }
}

impl RtcOptions {
    /// IPv4 loopback only: what tests on one machine want (few candidates, no stray interfaces).
    pub fn loopback_only() -> Self {
        Self {
            include_loopback: true,
            ipv4_only: true,
            ip_filter: Some(Arc::new(|ip: IpAddr| ip.is_loopback())),
            ..Self::default()
        }
    }

    /// One webrtc-rs `API` per peer connection: the answerer's ICE credentials can only be forced
    /// through the `SettingEngine` (webrtc-rs rejects a munged local description).
    pub(crate) fn build_api(
        &self,
        ice_credentials: Option<(String, String)>,
    ) -> Result<API, RtcError> {
        let mut se = SettingEngine::default();
        se.set_include_loopback_candidate(self.include_loopback);
        se.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
        se.set_prflx_acceptance_min_wait(Some(Duration::ZERO));
        se.set_host_acceptance_min_wait(Some(Duration::ZERO));
        if let Some((min, max)) = self.udp_port_range {
            let range = EphemeralUDP::new(min, max)
                .map_err(|e| RtcError::Webrtc(webrtc::Error::new(e.to_string())))?;
            se.set_udp_network(UDPNetwork::Ephemeral(range));
        }
        if self.ipv4_only {
            se.set_network_types(vec![NetworkType::Udp4]);
        }
        if let Some(filter) = &self.ip_filter {
            let filter = Arc::clone(filter);
            se.set_ip_filter(Box::new(move |ip| filter(ip)));
        }
        if let Some(filter) = &self.interface_filter {
            let filter = Arc::clone(filter);
            se.set_interface_filter(Box::new(move |name| filter(name)));
        }
        if let Some((ufrag, pwd)) = ice_credentials {
            se.set_ice_credentials(ufrag, pwd);
        }
        let mut media = super::media::media_engine()?;
        let interceptors = register_default_interceptors(Registry::new(), &mut media)?;
        Ok(APIBuilder::new()
            .with_setting_engine(se)
            .with_media_engine(media)
            .with_interceptor_registry(interceptors)
            .build())
    }
}
