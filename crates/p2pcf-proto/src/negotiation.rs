//! Renegotiation after connect, the way tiny-simple-peer does it over the data channel.
//!
//! Once a P2PCF peer is connected, adding or removing media renegotiates through signals sent
//! on the data channel ([`crate::signal`]). Only the initiator (peer B) makes offers; the other
//! side asks for one with `{type:'renegotiate'}`, and asks for an m-line for a track it wants to
//! send with `{type:'transceiverRequest'}` (after answering, for each of its transceivers that
//! has a track but no m-line yet). While a negotiation is running, a new need is queued and
//! started again once the signalling state is stable.
//!
//! [`Negotiation`] is that state machine, sans-IO: feed it what happened, execute the
//! [`NegotiationAction`]s it returns.

use crate::signal::{Signal, TransceiverRequest};

/// Something the peer-connection shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum NegotiationAction {
    /// Create an offer, set it as the local description, then report
    /// [`Negotiation::offer_created`] (initiator only).
    CreateOffer,
    /// Apply this remote offer, create and set an answer, then report
    /// [`Negotiation::answer_created`] (non-initiator).
    AcceptOffer(String),
    /// Apply this remote answer (initiator).
    AcceptAnswer(String),
    /// Add this remote candidate.
    AddCandidate(String),
    /// Add a transceiver of this kind (`"audio"` / `"video"`), as the other side asked.
    AddTransceiver {
        kind: String,
        init: Option<serde_json::Value>,
    },
    /// Send this signal to the peer over the data channel.
    Send(Signal),
}

/// The renegotiation state of one connected peer.
#[derive(Debug, Clone)]
pub struct Negotiation {
    initiator: bool,
    negotiating: bool,
    queued: bool,
}

impl Negotiation {
    /// `initiator`: this side is P2PCF's peer B (it created the data channel).
    pub fn new(initiator: bool) -> Self {
        Negotiation {
            initiator,
            negotiating: false,
            queued: false,
        }
    }

    /// Whether this side makes the offers.
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    /// Whether a negotiation is in flight (not yet back to stable).
    pub fn is_negotiating(&self) -> bool {
        self.negotiating
    }

    /// Local media changed (a track added or removed): start a negotiation, or queue one.
    pub fn needs_negotiation(&mut self) -> Vec<NegotiationAction> {
        if self.negotiating {
            self.queued = true;
            return Vec::new();
        }
        self.negotiating = true;
        if self.initiator {
            vec![NegotiationAction::CreateOffer]
        } else {
            vec![NegotiationAction::Send(Signal::Renegotiate {
                renegotiate: true,
            })]
        }
    }

    /// A signal arrived from the peer over the data channel.
    pub fn on_signal(&mut self, signal: Signal) -> Vec<NegotiationAction> {
        match signal {
            Signal::Renegotiate { renegotiate } => {
                if renegotiate && self.initiator {
                    self.needs_negotiation()
                } else {
                    Vec::new()
                }
            }
            Signal::TransceiverRequest {
                transceiver_request: TransceiverRequest { kind, init },
            } => {
                if !self.initiator {
                    return Vec::new();
                }
                let mut actions = vec![NegotiationAction::AddTransceiver { kind, init }];
                actions.extend(self.needs_negotiation());
                actions
            }
            Signal::Candidate { candidate } => {
                vec![NegotiationAction::AddCandidate(candidate.candidate)]
            }
            Signal::Offer { sdp } => vec![NegotiationAction::AcceptOffer(sdp)],
            Signal::Answer { sdp } => vec![NegotiationAction::AcceptAnswer(sdp)],
        }
    }

    /// The local offer is set; it goes to the peer.
    pub fn offer_created(&mut self, sdp: String) -> Vec<NegotiationAction> {
        vec![NegotiationAction::Send(Signal::Offer { sdp })]
    }

    /// The answer to a remote offer is set. `unnegotiated_kinds` lists the kinds of local
    /// transceivers that carry a track but got no m-line: a non-initiator asks for them.
    pub fn answer_created(
        &mut self,
        sdp: String,
        unnegotiated_kinds: &[String],
    ) -> Vec<NegotiationAction> {
        let mut actions = vec![NegotiationAction::Send(Signal::Answer { sdp })];
        if !self.initiator {
            actions.extend(unnegotiated_kinds.iter().map(|kind| {
                NegotiationAction::Send(Signal::TransceiverRequest {
                    transceiver_request: TransceiverRequest {
                        kind: kind.clone(),
                        init: None,
                    },
                })
            }));
        }
        actions
    }

    /// Applying or creating a description failed: give up this round (a queued need still runs).
    pub fn failed(&mut self) -> Vec<NegotiationAction> {
        self.stable()
    }

    /// The signalling state became stable: the round is over; a queued need starts now.
    pub fn stable(&mut self) -> Vec<NegotiationAction> {
        self.negotiating = false;
        if std::mem::take(&mut self.queued) {
            self.needs_negotiation()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::IceCandidate;
    use NegotiationAction as A;

    fn offer(sdp: &str) -> Signal {
        Signal::Offer { sdp: sdp.into() }
    }

    /// Runs two state machines against each other, as two connected peers would, until quiet.
    /// The "peer connection" is simulated: offers and answers always apply, transceivers are
    /// counted, and `unnegotiated` kinds on the non-initiator get m-lines once an offer carries
    /// a transceiver of that kind.
    struct Pair {
        sides: [Negotiation; 2],
        wanted: [Vec<String>; 2],
        transceivers: [Vec<String>; 2],
        offers: usize,
        sent: Vec<(usize, Signal)>,
    }

    impl Pair {
        fn new() -> Self {
            Pair {
                sides: [Negotiation::new(true), Negotiation::new(false)],
                wanted: [Vec::new(), Vec::new()],
                transceivers: [Vec::new(), Vec::new()],
                offers: 0,
                sent: Vec::new(),
            }
        }

        fn run(&mut self, side: usize, actions: Vec<NegotiationAction>) {
            let mut queue: Vec<(usize, NegotiationAction)> =
                actions.into_iter().map(|a| (side, a)).collect();
            while !queue.is_empty() {
                let (side, action) = queue.remove(0);
                let other = 1 - side;
                let more = match action {
                    A::CreateOffer => {
                        self.offers += 1;
                        let kinds = self.transceivers[side].join(",");
                        self.sides[side].offer_created(kinds)
                    }
                    A::Send(signal) => {
                        self.sent.push((side, signal.clone()));
                        let out = self.sides[other].on_signal(signal.clone());
                        queue.extend(out.into_iter().map(|a| (other, a)));
                        if matches!(signal, Signal::Answer { .. }) {
                            // The answerer is stable once its answer is set.
                            self.sides[side].stable()
                        } else {
                            Vec::new()
                        }
                    }
                    A::AcceptOffer(kinds) => {
                        let offered: Vec<String> = kinds
                            .split(',')
                            .filter(|k| !k.is_empty())
                            .map(str::to_owned)
                            .collect();
                        let missing: Vec<String> = self.wanted[side]
                            .iter()
                            .filter(|k| !offered.contains(k))
                            .cloned()
                            .collect();
                        self.transceivers[side] = offered;
                        self.sides[side].answer_created(String::new(), &missing)
                    }
                    A::AcceptAnswer(_) => self.sides[side].stable(),
                    A::AddTransceiver { kind, .. } => {
                        self.transceivers[side].push(kind);
                        Vec::new()
                    }
                    A::AddCandidate(_) => Vec::new(),
                };
                queue.extend(more.into_iter().map(|a| (side, a)));
            }
        }
    }

    #[test]
    fn initiator_offers_and_the_answer_ends_the_round() {
        let mut pair = Pair::new();
        pair.transceivers[0].push("video".into());
        let actions = pair.sides[0].needs_negotiation();
        assert_eq!(actions, vec![A::CreateOffer]);
        pair.run(0, actions);
        assert_eq!(pair.offers, 1);
        assert!(!pair.sides[0].is_negotiating());
        assert!(!pair.sides[1].is_negotiating());
        let kinds: Vec<&str> = pair
            .sent
            .iter()
            .map(|(_, s)| match s {
                Signal::Offer { .. } => "offer",
                Signal::Answer { .. } => "answer",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["offer", "answer"]);
    }

    #[test]
    fn non_initiator_track_gets_an_m_line_through_a_transceiver_request() {
        let mut pair = Pair::new();
        pair.wanted[1].push("video".into());
        let actions = pair.sides[1].needs_negotiation();
        assert_eq!(
            actions,
            vec![A::Send(Signal::Renegotiate { renegotiate: true })]
        );
        pair.run(1, actions);
        // renegotiate → offer without video → answer + transceiverRequest → offer with video.
        assert_eq!(pair.offers, 2);
        assert_eq!(pair.transceivers[0], ["video"]);
        assert_eq!(pair.transceivers[1], ["video"]);
        let requests = pair
            .sent
            .iter()
            .filter(|(side, s)| *side == 1 && matches!(s, Signal::TransceiverRequest { .. }))
            .count();
        assert_eq!(requests, 1, "asked once, then the m-line exists");
        assert!(!pair.sides[0].is_negotiating() && !pair.sides[1].is_negotiating());
    }

    #[test]
    fn a_need_during_a_round_is_queued_and_runs_once_after_it() {
        let mut n = Negotiation::new(true);
        assert_eq!(n.needs_negotiation(), vec![A::CreateOffer]);
        assert!(n.needs_negotiation().is_empty());
        assert!(n.needs_negotiation().is_empty());
        assert_eq!(n.stable(), vec![A::CreateOffer], "one queued round");
        assert!(n.stable().is_empty());
    }

    #[test]
    fn only_the_initiator_honours_renegotiate_and_transceiver_requests() {
        let mut a = Negotiation::new(false);
        assert!(a
            .on_signal(Signal::Renegotiate { renegotiate: true })
            .is_empty());
        let request = Signal::TransceiverRequest {
            transceiver_request: TransceiverRequest {
                kind: "video".into(),
                init: None,
            },
        };
        assert!(a.on_signal(request.clone()).is_empty());
        let mut b = Negotiation::new(true);
        assert_eq!(
            b.on_signal(request),
            vec![
                A::AddTransceiver {
                    kind: "video".into(),
                    init: None
                },
                A::CreateOffer
            ]
        );
    }

    #[test]
    fn offers_answers_and_candidates_are_passed_to_the_shell() {
        let mut n = Negotiation::new(false);
        assert_eq!(
            n.on_signal(offer("v=0")),
            vec![A::AcceptOffer("v=0".into())]
        );
        let c = Signal::Candidate {
            candidate: IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                sdp_m_line_index: Some(0),
                sdp_mid: Some("0".into()),
            },
        };
        assert_eq!(
            n.on_signal(c),
            vec![A::AddCandidate(
                "candidate:1 1 udp 1 127.0.0.1 9 typ host".into()
            )]
        );
        // The initiator's answer to its own offer never asks for transceivers.
        let mut b = Negotiation::new(true);
        assert_eq!(
            b.answer_created("x".into(), &["video".into()]),
            vec![A::Send(Signal::Answer { sdp: "x".into() })]
        );
    }

    #[test]
    fn a_failed_round_releases_the_queue() {
        let mut n = Negotiation::new(false);
        assert_eq!(n.needs_negotiation().len(), 1);
        assert!(n.needs_negotiation().is_empty());
        assert_eq!(
            n.failed(),
            vec![A::Send(Signal::Renegotiate { renegotiate: true })]
        );
    }
}
