//! The driver's media part: local tracks offered to every connected peer, and renegotiation
//! over the data channel.
//!
//! The [`Negotiation`] state machine decides; a per-peer worker task performs the webrtc-rs
//! calls one at a time (descriptions must be applied in order) and reports each result back to
//! the driver loop as a [`MediaStep`].

use std::sync::Arc;

use bytes::Bytes;
use p2pcf_proto::negotiation::{Negotiation, NegotiationAction};
use p2pcf_proto::signal::{self, Signal};
use p2pcf_proto::SessionId;
use tokio::sync::{mpsc, oneshot};

use super::{spawn_add_candidates, Driver, Report};
use crate::client::{ClientError, ClientEvent};
use crate::outgoing::{self, Outgoing};
use crate::rtc::{LinkKey, LocalTrack, PeerLink, RtcError, TrackSender};

/// What the worker is asked to do, in order.
pub(super) enum MediaJob {
    AddTrack(LocalTrack),
    RemoveTrack(Arc<TrackSender>),
    AddTransceiver(String),
    CreateOffer,
    AcceptOffer(String),
    AcceptAnswer(String),
}

/// What the worker did.
pub(super) enum MediaStep {
    TrackAdded {
        track_id: String,
        sender: Arc<TrackSender>,
    },
    TrackRemoved,
    OfferCreated(String),
    Answered {
        sdp: String,
        missing: Vec<String>,
    },
    AnswerApplied,
    /// A job failed; `negotiating` says whether it ends the negotiation round.
    Failed {
        error: RtcError,
        negotiating: bool,
    },
}

/// The media state of one connected peer.
pub(super) struct PeerMedia {
    negotiation: Negotiation,
    jobs: mpsc::UnboundedSender<MediaJob>,
    /// Our tracks on this peer: track id → sender.
    senders: Vec<(String, Arc<TrackSender>)>,
}

impl PeerMedia {
    pub(super) fn start(
        link: Arc<PeerLink>,
        key: LinkKey,
        initiator: bool,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(work(link, key, rx, reports));
        PeerMedia {
            negotiation: Negotiation::new(initiator),
            jobs,
            senders: Vec::new(),
        }
    }
}

async fn work(
    link: Arc<PeerLink>,
    key: LinkKey,
    mut jobs: mpsc::UnboundedReceiver<MediaJob>,
    reports: mpsc::UnboundedSender<Report>,
) {
    while let Some(job) = jobs.recv().await {
        let step = match job {
            MediaJob::AddTrack(track) => {
                let track_id = track.id().to_owned();
                match link.add_track(&track).await {
                    Ok(sender) => MediaStep::TrackAdded {
                        track_id,
                        sender: Arc::new(sender),
                    },
                    Err(error) => MediaStep::Failed {
                        error,
                        negotiating: false,
                    },
                }
            }
            MediaJob::RemoveTrack(sender) => match link.remove_track(&sender).await {
                Ok(()) => MediaStep::TrackRemoved,
                Err(error) => MediaStep::Failed {
                    error,
                    negotiating: false,
                },
            },
            MediaJob::AddTransceiver(kind) => match link.add_transceiver(&kind).await {
                Ok(()) => continue,
                Err(error) => MediaStep::Failed {
                    error,
                    negotiating: false,
                },
            },
            MediaJob::CreateOffer => outcome(link.create_offer().await, MediaStep::OfferCreated),
            MediaJob::AcceptOffer(sdp) => {
                outcome(link.accept_offer(sdp).await, |(sdp, missing)| {
                    MediaStep::Answered { sdp, missing }
                })
            }
            MediaJob::AcceptAnswer(sdp) => {
                outcome(link.accept_answer(sdp).await, |()| MediaStep::AnswerApplied)
            }
        };
        let closed = matches!(
            step,
            MediaStep::Failed {
                error: RtcError::Closed,
                ..
            }
        );
        if reports
            .send(Report::Media {
                key: key.clone(),
                step,
            })
            .is_err()
            || closed
        {
            return;
        }
    }
}

fn outcome<T>(result: Result<T, RtcError>, ok: impl FnOnce(T) -> MediaStep) -> MediaStep {
    match result {
        Ok(value) => ok(value),
        Err(error) => MediaStep::Failed {
            error,
            negotiating: true,
        },
    }
}

impl Driver {
    /// A peer's data channel opened: start its media worker and offer it our tracks.
    pub(super) fn media_connected(&mut self, peer: &SessionId) {
        let reports = self.reports.clone();
        let Some(entry) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(link) = entry.link.clone() else {
            return;
        };
        let media = PeerMedia::start(link, entry.key.clone(), entry.initiator, reports);
        for track in &self.local_tracks {
            let _ = media.jobs.send(MediaJob::AddTrack(track.clone()));
        }
        entry.media = Some(media);
    }

    pub(super) fn add_track(
        &mut self,
        track: LocalTrack,
        done: oneshot::Sender<Result<(), ClientError>>,
    ) {
        if self.local_tracks.iter().any(|t| t.id() == track.id()) {
            let _ = done.send(Err(ClientError::Invalid(format!(
                "a track with id {:?} is already shared",
                track.id()
            ))));
            return;
        }
        for entry in self.peers.values() {
            if let Some(media) = &entry.media {
                let _ = media.jobs.send(MediaJob::AddTrack(track.clone()));
            }
        }
        self.local_tracks.push(track);
        let _ = done.send(Ok(()));
    }

    pub(super) fn remove_track(
        &mut self,
        track_id: &str,
        done: oneshot::Sender<Result<(), ClientError>>,
    ) {
        let before = self.local_tracks.len();
        self.local_tracks.retain(|t| t.id() != track_id);
        if self.local_tracks.len() == before {
            let _ = done.send(Err(ClientError::Invalid(format!(
                "no shared track with id {track_id:?}"
            ))));
            return;
        }
        for entry in self.peers.values_mut() {
            let Some(media) = &mut entry.media else {
                continue;
            };
            media.senders.retain(|(id, sender)| {
                if id == track_id {
                    let _ = media.jobs.send(MediaJob::RemoveTrack(Arc::clone(sender)));
                    false
                } else {
                    true
                }
            });
        }
        let _ = done.send(Ok(()));
    }

    /// A renegotiation signal arrived over the data channel.
    pub(super) fn media_signal(&mut self, peer: &SessionId, signal: Signal) {
        let actions = match self.media_of(peer) {
            Some(media) => media.negotiation.on_signal(signal),
            None => match signal {
                // Before the channel opened only candidates can come (none do in P2PCF).
                Signal::Candidate { candidate } => {
                    vec![NegotiationAction::AddCandidate(candidate.candidate)]
                }
                other => {
                    tracing::debug!(peer = %peer, ?other, "signal before the channel opened ignored");
                    return;
                }
            },
        };
        self.run_actions(peer, actions);
    }

    pub(super) fn media_step(&mut self, key: &LinkKey, step: MediaStep) {
        let Some(peer) = self.keys.get(key).cloned() else {
            return;
        };
        let shared: Vec<String> = self
            .local_tracks
            .iter()
            .map(|t| t.id().to_owned())
            .collect();
        let Some(media) = self.media_of(&peer) else {
            return;
        };
        let actions = match step {
            MediaStep::TrackAdded { track_id, sender } => {
                if shared.contains(&track_id) {
                    media.senders.push((track_id, sender));
                } else {
                    // Removed while it was being added.
                    let _ = media.jobs.send(MediaJob::RemoveTrack(sender));
                }
                media.negotiation.needs_negotiation()
            }
            MediaStep::TrackRemoved => media.negotiation.needs_negotiation(),
            MediaStep::OfferCreated(sdp) => media.negotiation.offer_created(sdp),
            MediaStep::Answered { sdp, missing } => {
                let mut actions = media.negotiation.answer_created(sdp, &missing);
                actions.extend(media.negotiation.stable());
                actions
            }
            MediaStep::AnswerApplied => media.negotiation.stable(),
            MediaStep::Failed { error, negotiating } => {
                tracing::warn!(peer = %peer, "media step failed: {error}");
                if negotiating {
                    media.negotiation.failed()
                } else {
                    Vec::new()
                }
            }
        };
        self.run_actions(&peer, actions);
    }

    fn media_of(&mut self, peer: &SessionId) -> Option<&mut PeerMedia> {
        self.peers.get_mut(peer).and_then(|e| e.media.as_mut())
    }

    fn run_actions(&mut self, peer: &SessionId, actions: Vec<NegotiationAction>) {
        let Some(entry) = self.peers.get(peer) else {
            return;
        };
        let mut signals = Vec::new();
        for action in actions {
            let job = match action {
                NegotiationAction::Send(signal) => {
                    signals.push(signal);
                    continue;
                }
                NegotiationAction::AddCandidate(candidate) => {
                    if let Some(link) = entry.link.clone() {
                        spawn_add_candidates(link, vec![candidate]);
                    }
                    continue;
                }
                NegotiationAction::CreateOffer => MediaJob::CreateOffer,
                NegotiationAction::AcceptOffer(sdp) => MediaJob::AcceptOffer(sdp),
                NegotiationAction::AcceptAnswer(sdp) => MediaJob::AcceptAnswer(sdp),
                NegotiationAction::AddTransceiver { kind, .. } => MediaJob::AddTransceiver(kind),
            };
            if let Some(media) = &entry.media {
                let _ = media.jobs.send(job);
            }
        }
        if !signals.is_empty() {
            if let Some(writer) = entry.writer.clone() {
                send_signals(writer, signals);
            }
        }
    }

    pub(super) fn keyframe_requested(&self, peer: &SessionId) {
        self.emit(ClientEvent::KeyframeRequested { from: peer.clone() });
    }
}

/// Sends signals in order, behind whatever the peer's writer already queued.
fn send_signals(writer: mpsc::Sender<Outgoing>, signals: Vec<Signal>) {
    tokio::spawn(async move {
        for signal in signals {
            let (done, result) = oneshot::channel();
            outgoing::enqueue(
                writer.clone(),
                Bytes::from(signal::encode(&signal)),
                None,
                done,
            );
            match result.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!("signal not sent: {e}");
                    return;
                }
                Err(_) => return,
            }
        }
    });
}
