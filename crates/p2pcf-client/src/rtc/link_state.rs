//! The per-link state that turns raw webrtc-rs callbacks into `LinkEvent`s.
//!
//! Callbacks only forward a [`Signal`]; ordering and de-duplication live here, where they can be
//! tested without a network: `Open` always precedes the first `Message`, candidates are reported
//! once when gathering completes, and exactly one terminal event (`Closed` or `Failed`) is emitted.

use bytes::Bytes;
use webrtc::peer_connection::RTCPeerConnectionState;

use super::{LinkEvent, RemoteTrack};

/// What a webrtc-rs callback saw.
#[derive(Debug)]
pub(crate) enum Signal {
    /// A local candidate (`candidate:…`), or `None` when gathering completed.
    Candidate(Option<String>),
    ChannelOpen,
    ChannelMessage(Bytes),
    ChannelClosed,
    ConnectionState(RTCPeerConnectionState),
    /// The peer started sending a track.
    Track(RemoteTrack),
}

#[derive(Debug, Default)]
pub(crate) struct LinkState {
    candidates: Vec<String>,
    gathered: bool,
    open: bool,
    finished: bool,
}

impl LinkState {
    /// Feeds one signal; returns the events to emit, in order.
    pub(crate) fn on_signal(&mut self, signal: Signal) -> Vec<LinkEvent> {
        let mut out = Vec::new();
        match signal {
            Signal::Candidate(Some(c)) if !self.gathered => self.candidates.push(c),
            Signal::Candidate(Some(_)) => {}
            Signal::Candidate(None) => {
                if !self.gathered {
                    self.gathered = true;
                    out.push(LinkEvent::CandidatesGathered(std::mem::take(
                        &mut self.candidates,
                    )));
                }
            }
            Signal::ChannelOpen => self.open_once(&mut out),
            Signal::ChannelMessage(data) => {
                // A channel the peer opened is handed over already open: its first event may
                // be a message.
                self.open_once(&mut out);
                if !self.finished {
                    out.push(LinkEvent::Message(data));
                }
            }
            Signal::ChannelClosed => self.finish(LinkEvent::Closed, &mut out),
            Signal::ConnectionState(RTCPeerConnectionState::Failed) => self.finish(
                LinkEvent::Failed("peer connection failed (ICE or DTLS)".into()),
                &mut out,
            ),
            Signal::ConnectionState(RTCPeerConnectionState::Closed) => {
                self.finish(LinkEvent::Closed, &mut out)
            }
            Signal::ConnectionState(state) => tracing::trace!(%state, "peer connection state"),
            Signal::Track(track) => {
                if !self.finished {
                    out.push(LinkEvent::Track(track));
                }
            }
        }
        out
    }

    fn open_once(&mut self, out: &mut Vec<LinkEvent>) {
        if !self.open && !self.finished {
            self.open = true;
            out.push(LinkEvent::Open);
        }
    }

    fn finish(&mut self, event: LinkEvent, out: &mut Vec<LinkEvent>) {
        if !self.finished {
            self.finished = true;
            out.push(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(port: u16) -> String {
        format!("candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host")
    }

    #[test]
    fn candidates_are_reported_once_as_candidate_strings_when_gathering_completes() {
        let mut s = LinkState::default();
        assert!(s.on_signal(Signal::Candidate(Some(host(5000)))).is_empty());
        assert!(s.on_signal(Signal::Candidate(Some(host(5001)))).is_empty());
        let out = s.on_signal(Signal::Candidate(None));
        let [LinkEvent::CandidatesGathered(list)] = out.as_slice() else {
            panic!("expected one CandidatesGathered, got {out:?}");
        };
        assert_eq!(list.len(), 2);
        assert!(list[0].starts_with("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"));
        assert!(s.on_signal(Signal::Candidate(None)).is_empty());
        assert!(s.on_signal(Signal::Candidate(Some(host(5002)))).is_empty());
    }

    #[test]
    fn a_message_overtaking_open_is_preceded_by_open() {
        let mut s = LinkState::default();
        let out = s.on_signal(Signal::ChannelMessage(Bytes::from_static(b"hi")));
        assert_eq!(
            out,
            vec![
                LinkEvent::Open,
                LinkEvent::Message(Bytes::from_static(b"hi"))
            ]
        );
        assert!(s.on_signal(Signal::ChannelOpen).is_empty());
    }

    #[test]
    fn exactly_one_terminal_event_and_nothing_after_it() {
        let mut s = LinkState::default();
        assert_eq!(s.on_signal(Signal::ChannelOpen), vec![LinkEvent::Open]);
        assert_eq!(
            s.on_signal(Signal::ConnectionState(RTCPeerConnectionState::Failed)),
            vec![LinkEvent::Failed(
                "peer connection failed (ICE or DTLS)".into()
            )]
        );
        assert!(s.on_signal(Signal::ChannelClosed).is_empty());
        assert!(s
            .on_signal(Signal::ChannelMessage(Bytes::from_static(b"late")))
            .is_empty());
        assert!(s
            .on_signal(Signal::ConnectionState(RTCPeerConnectionState::Closed))
            .is_empty());
    }

    #[test]
    fn disconnected_is_not_terminal() {
        let mut s = LinkState::default();
        assert!(s
            .on_signal(Signal::ConnectionState(
                RTCPeerConnectionState::Disconnected
            ))
            .is_empty());
        assert_eq!(s.on_signal(Signal::ChannelClosed), vec![LinkEvent::Closed]);
    }
}
