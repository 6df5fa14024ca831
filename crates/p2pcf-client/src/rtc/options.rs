//! Transport settings, and the one place a webrtc-rs peer connection is built from them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use p2pcf_proto::IceServer;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::Slot;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use webrtc::peer_connection::{
    register_default_interceptors, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy,
    Registry, SettingEngineBuilder,
};

use super::socket::{SocketReport, TunedRuntime};
use super::{LocalCertificate, RtcError};

/// A predicate on local IP addresses: `true` keeps the address for ICE gathering.
pub type IpFilter = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// A predicate on local interface names: `true` keeps the interface for ICE gathering.
pub type InterfaceFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// P2PCF's `sdpTransform` option: sees each local SDP (offer or answer) and returns what this
/// side publishes from it. webrtc-rs rejects munged local descriptions, so unlike in a browser
/// the rewrite does not change the local connection itself.
pub type SdpTransform = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Default send high-water mark: `PeerLink::send` waits while this much is outstanding.
pub const DEFAULT_SEND_HIGH_WATER_MARK: usize = 1024 * 1024;

/// Default receive budget of a joined client.
pub const DEFAULT_RECEIVE_BUDGET: usize = 64 * 1024 * 1024;

/// Default UDP receive buffer requested for every ICE socket (`SO_RCVBUF`). webrtc 0.21 sends
/// in bursts (GSO); with Linux's stock 212992 bytes a burst overflows the socket and every drop
/// costs an SCTP retransmission timeout. The kernel caps the request at `net.core.rmem_max`.
pub const DEFAULT_UDP_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Linux's stock `net.core.rmem_max` (and `rmem_default`): what an unprivileged program gets
/// on an untuned machine. Setting [`RtcOptions::udp_receive_buffer`] to this emulates one.
pub const STOCK_LINUX_UDP_RECEIVE_BUFFER: usize = 212_992;

/// Default SCTP receive window (a_rwnd) we advertise: webrtc-rs's default, set explicitly so
/// it is a decision here and not an accident of the crate version.
pub const DEFAULT_SCTP_RECEIVE_WINDOW: u32 = 1024 * 1024;

/// Largest data-channel message we accept (`a=max-message-size` of our descriptions): what
/// Chromium accepts and sends at most (256 KiB). P2PCF itself chunks to 16000 bytes.
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 256 * 1024;

/// Transport settings for every peer connection of a client. Nothing here is P2PCF policy.
///
/// mDNS host candidates are always off (P2PCF peers publish plain addresses) and peer-reflexive
/// candidates are accepted at once (with P2PCF's synthetic descriptions the first working pair
/// is usually peer-reflexive).
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
    /// `send` waits until the data channel holds less than this many unsent/unacknowledged
    /// bytes, then admits the message whole (so at most this plus one message is held).
    pub send_high_water_mark: usize,
    /// Peer-connection option `iceTransportPolicy: 'relay'`: use TURN relays only.
    pub relay_only: bool,
    /// P2PCF's `sdpTransform` hook (the identity when `None`).
    pub sdp_transform: Option<SdpTransform>,
    /// Receive-side flow control: links stop reading while the application holds more than
    /// this many received bytes (see [`super::ReceiveBudget`]). `None`: unlimited. A joined
    /// client shares one budget between its links.
    pub receive_budget: Option<Arc<super::ReceiveBudget>>,
    /// `SO_RCVBUF` requested for each ICE UDP socket; the kernel grants at most
    /// `net.core.rmem_max` (see [`super::PeerLink::socket_report`]). `0` leaves the OS default.
    pub udp_receive_buffer: usize,
    /// SCTP receive window advertised to the peer.
    pub sctp_receive_window: u32,
    /// Largest data-channel message accepted.
    pub max_message_size: u32,
}

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
            udp_receive_buffer: DEFAULT_UDP_RECEIVE_BUFFER,
            sctp_receive_window: DEFAULT_SCTP_RECEIVE_WINDOW,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
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
            .field("udp_receive_buffer", &self.udp_receive_buffer)
            .field("sctp_receive_window", &self.sctp_receive_window)
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

/// What [`RtcOptions::build`] made.
pub(crate) struct Built {
    pub pc: Arc<dyn PeerConnection>,
    pub sockets: Arc<SocketReport>,
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

    /// Builds one peer connection. The answerer's ICE credentials can only be forced through
    /// the setting engine (webrtc-rs rejects a munged local description).
    pub(crate) async fn build(
        &self,
        ice_servers: &[IceServer],
        cert: &LocalCertificate,
        ice_credentials: Option<(String, String)>,
        handler: Arc<dyn PeerConnectionEventHandler>,
    ) -> Result<Built, RtcError> {
        let mut se = SettingEngineBuilder::new()
            .with_include_loopback_candidate(self.include_loopback)
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
            .with_host_acceptance_min_wait(Some(Duration::ZERO))
            .with_sctp_max_receive_buffer_size(self.sctp_receive_window)
            .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(self.max_message_size));
        if self.ipv4_only {
            se = se.with_network_types(vec![NetworkType::Udp4]);
        }
        if let Some((ufrag, pwd)) = ice_credentials {
            se = se.with_ice_credentials(ufrag, pwd);
        }
        let mut media = super::media::media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut media)?
            // Application-most: every interceptor has seen inbound RTCP before this one keeps
            // only key-frame requests for the application.
            .with(
                Slot::from(14_000),
                super::keyframe::KeyframeRequests::default(),
            );
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(to_rtc_ice_servers(ice_servers))
            .with_certificates(vec![cert.rtc().clone()])
            .with_ice_transport_policy(if self.relay_only {
                RTCIceTransportPolicy::Relay
            } else {
                RTCIceTransportPolicy::All
            })
            .build();
        let (runtime, sockets) = TunedRuntime::with_report(self.udp_receive_buffer);
        let pc = PeerConnectionBuilder::new()
            .with_configuration(config)
            .with_setting_engine(se.build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_runtime(runtime)
            .with_handler(handler)
            .with_udp_addrs(self.bind_addrs()?)
            .with_data_channel_send_buffer_limit(self.send_high_water_mark.max(1))
            .build()
            .await?;
        Ok(Built {
            pc: Arc::new(pc),
            sockets,
        })
    }

    /// The local addresses to bind one ICE socket each: the interfaces these options keep.
    /// webrtc-rs makes one host candidate per bound socket.
    fn bind_addrs(&self) -> Result<Vec<SocketAddr>, RtcError> {
        let interfaces = rtc::shared::ifaces::ifaces()
            .map_err(|e| RtcError::Io(format!("listing network interfaces: {e}")))?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for interface in interfaces {
            let Some(addr) = interface.addr else { continue };
            let ip = addr.ip();
            let link_local = match ip {
                IpAddr::V4(v4) => v4.is_link_local(),
                IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
            };
            if ip.is_unspecified()
                || link_local
                || ip.is_multicast()
                || (ip.is_loopback() && !self.include_loopback)
                || (ip.is_ipv6() && self.ipv4_only)
                || self.ip_filter.as_ref().is_some_and(|keep| !keep(ip))
                || self
                    .interface_filter
                    .as_ref()
                    .is_some_and(|keep| !keep(&interface.name))
                || ips.contains(&ip)
            {
                continue;
            }
            ips.push(ip);
        }
        if ips.is_empty() {
            // Nothing local is usable: a wildcard socket still reaches STUN/TURN servers.
            ips.push(IpAddr::from([0, 0, 0, 0]));
        }
        ips.into_iter()
            .map(|ip| self.pick_port(ip).map(|port| SocketAddr::new(ip, port)))
            .collect()
    }

    /// Port 0 (ephemeral), or the first free port of `udp_port_range` on `ip`.
    fn pick_port(&self, ip: IpAddr) -> Result<u16, RtcError> {
        let Some((min, max)) = self.udp_port_range else {
            return Ok(0);
        };
        if min > max || min == 0 {
            return Err(RtcError::Io(format!("invalid UDP port range {min}-{max}")));
        }
        // webrtc-rs binds the address itself; probing leaves a small window in which another
        // process could take the port, after which that bind fails and is logged.
        (min..=max)
            .find(|port| std::net::UdpSocket::bind(SocketAddr::new(ip, *port)).is_ok())
            .ok_or_else(|| RtcError::Io(format!("no free UDP port in {min}-{max} on {ip}")))
    }
}

pub(crate) fn to_rtc_ice_servers(servers: &[IceServer]) -> Vec<RTCIceServer> {
    servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect()
}
