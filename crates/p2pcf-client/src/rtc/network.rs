//! Network settings probe: P2PCF's `_getNetworkSettings` (reflexive IPs, symmetric NAT
//! detection). The classification rule is [`NetworkSettings::from_candidates`] in
//! `p2pcf-proto`; this module only gathers the candidates.

use std::sync::Arc;
use std::time::Duration;

use p2pcf_proto::sdp::NetworkSettings;
use p2pcf_proto::IceServer;
use tokio::sync::mpsc;
use tokio::time::Instant;
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionIceEvent,
};

use super::{LocalCertificate, RtcError, RtcOptions};

struct Gatherer(mpsc::UnboundedSender<Option<String>>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Gatherer {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.0.send(Some(init.candidate));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.send(None);
        }
    }
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
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut probe_opts = opts.clone();
    // The probe only gathers; its sockets need no large buffers.
    probe_opts.udp_receive_buffer = 0;
    let pc = probe_opts
        .build(stun, cert, None, Arc::new(Gatherer(tx)))
        .await?
        .pc;
    let result = async {
        let _dc = pc.create_data_channel("x", None).await?;
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let mut candidates = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Some(c))) => candidates.push(c),
                Ok(Some(None)) | Ok(None) => break,
                Err(_) => {
                    tracing::debug!("network settings: gathering capped after {cap:?}");
                    break;
                }
            }
        }
        Ok::<_, RtcError>(NetworkSettings::from_candidates(&candidates))
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
