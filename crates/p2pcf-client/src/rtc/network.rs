//! Network settings probe: P2PCF's `_getNetworkSettings` (reflexive IPs, symmetric NAT detection).

use std::sync::Arc;
use std::time::Duration;

use p2pcf_proto::IceServer;
use tokio::sync::mpsc;
use tokio::time::Instant;
use webrtc::ice_transport::ice_candidate::RTCIceCandidate;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::peer_connection::configuration::RTCConfiguration;

use super::sdp::to_rtc_ice_servers;
use super::{LocalCertificate, RtcError, RtcOptions};

/// What a client publishes about its network (`udpEnabled`, `isSymmetric`, `reflexiveIps`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSettings {
    /// At least one server-reflexive candidate was found.
    pub udp_enabled: bool,
    /// Two server-reflexive candidates share a related (local) port but differ in mapped port.
    pub is_symmetric: bool,
    /// Server-reflexive addresses, first-seen order, without duplicates.
    pub reflexive_ips: Vec<String>,
}

/// The parts of a gathered candidate the classification looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CandidateFacts {
    pub srflx: bool,
    pub address: String,
    pub port: u16,
    pub related_port: Option<u16>,
}

impl From<&RTCIceCandidate> for CandidateFacts {
    fn from(c: &RTCIceCandidate) -> Self {
        Self {
            srflx: c.typ == RTCIceCandidateType::Srflx,
            address: c.address.clone(),
            port: c.port,
            related_port: (!c.related_address.is_empty()).then_some(c.related_port),
        }
    }
}

/// The classification `_getNetworkSettings` does on the gathered candidates.
pub(crate) fn classify(candidates: &[CandidateFacts]) -> NetworkSettings {
    let mut settings = NetworkSettings::default();
    for (i, c) in candidates.iter().enumerate() {
        if !c.srflx {
            continue;
        }
        settings.udp_enabled = true;
        if !settings.reflexive_ips.contains(&c.address) {
            settings.reflexive_ips.push(c.address.clone());
        }
        let symmetric_pair = candidates.iter().enumerate().any(|(j, d)| {
            j != i
                && d.srflx
                && c.related_port.is_some()
                && c.related_port == d.related_port
                && c.port != d.port
        });
        settings.is_symmetric |= symmetric_pair;
    }
    settings
}

/// Gathers candidates on a throw-away peer connection with a data channel against `stun` and
/// classifies them. Returns when gathering completes or after `cap`, whichever comes first
/// (P2PCF uses 5 s). With no STUN servers gathering completes almost at once.
pub async fn gather_network_settings(
    stun: &[IceServer],
    cert: &LocalCertificate,
    opts: &RtcOptions,
    cap: Duration,
) -> Result<NetworkSettings, RtcError> {
    let deadline = Instant::now() + cap;
    let api = opts.build_api(None)?;
    let pc = Arc::new(
        api.new_peer_connection(RTCConfiguration {
            ice_servers: to_rtc_ice_servers(stun),
            certificates: vec![cert.rtc().clone()],
            ..Default::default()
        })
        .await?,
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    pc.on_ice_candidate(Box::new(move |c| {
        let _ = tx.send(c);
        Box::pin(async {})
    }));
    let result = async {
        let _dc = pc.create_data_channel("x", None).await?;
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let mut facts = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Some(c))) => facts.push(CandidateFacts::from(&c)),
                Ok(Some(None)) | Ok(None) => break,
                Err(_) => {
                    tracing::debug!("network settings: gathering capped after {cap:?}");
                    break;
                }
            }
        }
        Ok::<_, RtcError>(classify(&facts))
    }
    .await;
    // Closing waits for pending STUN transactions; do it in the background so an unreachable
    // STUN server cannot hold the caller past `cap`.
    tokio::spawn(async move {
        if let Err(e) = pc.close().await {
            tracing::debug!("network settings: closing probe connection: {e}");
        }
    });
    let settings = result?;
    tracing::debug!(
        udp_enabled = settings.udp_enabled,
        is_symmetric = settings.is_symmetric,
        reflexive_ips = settings.reflexive_ips.len(),
        "network settings gathered"
    );
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srflx(address: &str, port: u16, related_port: u16) -> CandidateFacts {
        CandidateFacts {
            srflx: true,
            address: address.into(),
            port,
            related_port: Some(related_port),
        }
    }

    fn host(address: &str, port: u16) -> CandidateFacts {
        CandidateFacts {
            srflx: false,
            address: address.into(),
            port,
            related_port: None,
        }
    }

    #[test]
    fn host_candidates_only_mean_no_udp_and_no_reflexive_ips() {
        let s = classify(&[host("10.0.0.2", 5000), host("127.0.0.1", 5001)]);
        assert_eq!(s, NetworkSettings::default());
    }

    #[test]
    fn same_mapping_from_two_servers_is_not_symmetric() {
        let s = classify(&[
            host("10.0.0.2", 5000),
            srflx("203.0.113.7", 40000, 5000),
            srflx("203.0.113.7", 40000, 5000),
        ]);
        assert!(s.udp_enabled);
        assert!(!s.is_symmetric);
        assert_eq!(s.reflexive_ips, vec!["203.0.113.7".to_owned()]);
    }

    #[test]
    fn different_mapped_ports_for_one_local_port_mean_symmetric() {
        let s = classify(&[
            srflx("203.0.113.7", 40000, 5000),
            srflx("203.0.113.8", 40001, 5000),
        ]);
        assert!(s.is_symmetric);
        assert_eq!(s.reflexive_ips, vec!["203.0.113.7", "203.0.113.8"]);
    }

    #[test]
    fn different_local_ports_are_not_symmetric() {
        let s = classify(&[
            srflx("203.0.113.7", 40000, 5000),
            srflx("203.0.113.7", 40001, 5001),
        ]);
        assert!(!s.is_symmetric);
    }
}
