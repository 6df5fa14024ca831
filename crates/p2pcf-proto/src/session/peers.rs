//! `_handleWorkerResponse` and the peer lifecycle inputs.

use super::{
    CreateAnswerer, CreateInitiator, DestroyReason, NextStep, Output, PeerState, Role, Session,
};
use crate::sdp;
use crate::wire::{Package, PollResponse, RemotePeer};
use crate::SessionId;

impl Session {
    /// P2PCF's role rule: peer B (the initiator) is the one that should act first.
    fn is_peer_a(&self, remote: &RemotePeer) -> bool {
        let local_sym = self.settings.as_ref().is_some_and(|s| s.is_symmetric);
        let local_joined = self.identity.joined_at_ms as i64;
        if local_sym != remote.data.is_symmetric {
            // Only the non-symmetric side has usable candidates: it initiates.
            return local_sym;
        }
        if local_joined == remote.data.joined_at_ms {
            // JS string comparison (UTF-16 code units).
            let local = self.identity.session_id.as_str().encode_utf16();
            local.gt(remote.data.session_id.as_str().encode_utf16())
        } else {
            local_joined > remote.data.joined_at_ms
        }
    }

    pub(super) fn handle_worker_response(&mut self, now: u64, response: &PollResponse) {
        let local_sym = self.settings.as_ref().is_some_and(|s| s.is_symmetric);
        for remote in &response.peers {
            let rs = &remote.data.session_id;
            if *rs == self.identity.session_id {
                continue;
            }
            if self.last_processed.get(rs) == Some(&remote.data_timestamp) {
                continue;
            }
            let ice_servers = if local_sym || remote.data.is_symmetric {
                self.config.turn_ice_servers.clone()
            } else {
                self.config.stun_ice_servers.clone()
            };
            let remote_package = response.packages.iter().find(|p| p.from == *rs);

            if self.is_peer_a(remote) {
                if self.peers.contains_key(rs) {
                    continue;
                }
                let Some(pkg) = remote_package else { continue };
                self.last_processed
                    .insert(rs.clone(), remote.data_timestamp);
                if self.package_received.contains(rs) {
                    continue;
                }
                let (Some(ufrag), Some(pwd), Some(dtls), Some(local_ufrag), Some(local_pwd)) = (
                    &pkg.ufrag,
                    &pkg.pwd,
                    &pkg.dtls_fingerprint_b64,
                    &pkg.ufrag_for_remote,
                    &pkg.pwd_for_remote,
                ) else {
                    tracing::debug!(peer = %rs, "package without ICE credentials; roles disagree?");
                    continue;
                };
                self.package_received.insert(rs.clone());
                self.peers.insert(
                    rs.clone(),
                    PeerState {
                        role: Role::A,
                        created_at: now,
                        connected: false,
                        package_queued: false,
                        remote_description_set: true,
                        ufrag_for_remote: String::new(),
                        pwd_for_remote: String::new(),
                    },
                );
                tracing::debug!(peer = %rs, "creating answerer (peer A)");
                self.outputs
                    .push_back(Output::CreateAnswerer(CreateAnswerer {
                        peer: rs.clone(),
                        client_id: remote.data.client_id.clone(),
                        ice_servers,
                        remote_ufrag: ufrag.clone(),
                        remote_pwd: pwd.clone(),
                        remote_dtls_fingerprint_b64: dtls.clone(),
                        remote_candidates: pkg.candidates.clone(),
                        local_ufrag: local_ufrag.clone(),
                        local_pwd: local_pwd.clone(),
                    }));
                continue;
            }

            if !self.peers.contains_key(rs) {
                self.last_processed
                    .insert(rs.clone(), remote.data_timestamp);
                let ufrag_for_remote = sdp::new_ufrag(&mut self.rng);
                let pwd_for_remote = sdp::new_pwd(&mut self.rng);
                self.peers.insert(
                    rs.clone(),
                    PeerState {
                        role: Role::B,
                        created_at: now,
                        connected: false,
                        package_queued: false,
                        remote_description_set: false,
                        ufrag_for_remote: ufrag_for_remote.clone(),
                        pwd_for_remote: pwd_for_remote.clone(),
                    },
                );
                tracing::debug!(peer = %rs, "creating initiator (peer B)");
                self.outputs
                    .push_back(Output::CreateInitiator(CreateInitiator {
                        peer: rs.clone(),
                        client_id: remote.data.client_id.clone(),
                        ice_servers,
                        ufrag_for_remote,
                        pwd_for_remote,
                        remote_dtls_fingerprint_b64: remote.data.dtls_fingerprint_b64.clone(),
                        remote_reflexive_ips: remote.data.reflexive_ips.clone(),
                    }));
            }
            // Peer B also takes A's candidates, for when hole punching fails.
            let Some(pkg) = remote_package else { continue };
            if self.package_received.contains(rs) {
                continue;
            }
            let Some(peer) = self.peers.get(rs) else {
                continue;
            };
            if peer.remote_description_set && !pkg.candidates.is_empty() {
                if !peer.connected {
                    self.outputs.push_back(Output::AddRemoteCandidates {
                        peer: rs.clone(),
                        candidates: pkg.candidates.clone(),
                    });
                }
                self.package_received.insert(rs.clone());
            }
        }

        // Remove unconnected peers that left the peer list.
        let gone: Vec<SessionId> = self
            .peers
            .iter()
            .filter(|(id, p)| {
                !p.connected && !response.peers.iter().any(|r| r.data.session_id == **id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            tracing::debug!(peer = %id, "removing unconnected peer not in peer list");
            self.remove_peer(&id, Some(DestroyReason::NotInPeerList));
        }
    }

    /// `_removePeer`: forget the peer and its packages; `destroy` asks the driver to close it.
    pub(super) fn remove_peer(&mut self, id: &SessionId, destroy: Option<DestroyReason>) {
        if self.peers.remove(id).is_none() {
            return;
        }
        self.packages.retain(|p| p.to != *id);
        self.package_received.remove(id);
        if let Some(reason) = destroy {
            self.outputs.push_back(Output::DestroyPeer {
                peer: id.clone(),
                reason,
            });
        }
    }

    fn queue_package(&mut self, now: u64, pkg: Package) {
        self.packages.push(pkg);
        // Publish at once rather than at the next scheduled step.
        if !self.finished {
            self.next_step = NextStep::At(now);
        }
    }

    pub(super) fn on_initiator_ready(
        &mut self,
        now: u64,
        peer: SessionId,
        ufrag: String,
        pwd: String,
        dtls_fingerprint_b64: String,
        candidates: Vec<String>,
    ) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.role != Role::B || state.package_queued {
            return;
        }
        state.remote_description_set = true;
        if candidates.is_empty() {
            // As P2PCF: without candidates there is nothing for A to reach.
            tracing::warn!(peer = %peer, "initiator gathered no candidates; no package sent");
            return;
        }
        state.package_queued = true;
        let pkg = Package {
            to: peer,
            from: self.identity.session_id.clone(),
            ufrag: Some(ufrag),
            pwd: Some(pwd),
            dtls_fingerprint_b64: Some(dtls_fingerprint_b64),
            ufrag_for_remote: Some(state.ufrag_for_remote.clone()),
            pwd_for_remote: Some(state.pwd_for_remote.clone()),
            created_at_ms: state.created_at as i64,
            candidates,
        };
        self.queue_package(now, pkg);
    }

    pub(super) fn on_answerer_candidates(
        &mut self,
        now: u64,
        peer: SessionId,
        candidates: Vec<String>,
    ) {
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.role != Role::A || state.package_queued || candidates.is_empty() {
            return;
        }
        state.package_queued = true;
        let pkg = Package {
            to: peer,
            from: self.identity.session_id.clone(),
            ufrag: None,
            pwd: None,
            dtls_fingerprint_b64: None,
            ufrag_for_remote: None,
            pwd_for_remote: None,
            created_at_ms: state.created_at as i64,
            candidates,
        };
        self.queue_package(now, pkg);
    }

    pub(super) fn on_peer_connected(&mut self, peer: SessionId) {
        if let Some(state) = self.peers.get_mut(&peer) {
            state.connected = true;
            self.packages.retain(|p| p.to != peer);
        }
    }
}
