//! Leave, network changes, worker errors and stray inputs.

use super::sim::{fingerprint, settings, Sim, T0};
use super::{cfg, created_answerers, destroyed, sim_identity};
use crate::session::*;
use crate::wire::PollResponse;

#[test]
fn leave_sends_the_delete_key_and_the_other_side_drops_unconnected_peer() {
    let mut sim = Sim::new(cfg());
    sim.auto_connect = false;
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.add_node(T0 + 1000, false, &["203.0.113.2"]);
    sim.run_until(T0 + 6_000);
    assert_eq!(created_answerers(&sim, 1).len(), 1);
    sim.push(1, T0 + 6_000, Input::Leave { now: T0 + 6_000 });
    sim.run_until(T0 + 20_000);

    let dk = sim.nodes[1].session.delete_key().unwrap().to_owned();
    let reqs = sim.nodes[1].requests();
    let (at, leave_req, leave) = reqs.last().unwrap();
    assert!(*leave);
    assert_eq!(*at, T0 + 6_000);
    assert_eq!(leave_req.delete_key.as_deref(), Some(dk.as_str()));
    assert!(leave_req.data.is_some() && leave_req.packages.is_none());
    assert!(!sim.worker.has_entry("ctx1"));
    assert_eq!(destroyed(&sim, 1)[0].1 .1, DestroyReason::Leaving);
    assert!(sim.nodes[1].events().contains(&SessionEvent::Left {
        delete_key_sent: true,
        error: None
    }));
    assert!(sim.nodes[1].session.is_finished());
    assert_eq!(sim.nodes[1].session.poll_timeout(), None);

    // Node 0's peer never connected and is gone from ps: removed at its next poll.
    let gone = destroyed(&sim, 0);
    assert_eq!(
        gone[0].1,
        (SessionId::from_wire("sess1"), DestroyReason::NotInPeerList)
    );
    assert!(
        gone[0].0 > T0 + 6_000 && gone[0].0 < T0 + 6_600,
        "{}",
        gone[0].0
    );
}

#[test]
fn leave_without_a_delete_key_sends_nothing() {
    let mut s = Session::new(cfg(), sim_identity(), [0; 32]);
    s.handle_input(Input::Leave { now: T0 });
    assert_eq!(
        s.poll_output(),
        Some(Output::Event(SessionEvent::Left {
            delete_key_sent: false,
            error: None
        }))
    );
    assert_eq!(s.poll_output(), None);
    s.handle_input(Input::NetworkSettings {
        now: T0,
        settings: settings(&["1.1.1.1"], false),
    });
    assert_eq!(s.poll_output(), None, "no polling after leaving");
}

#[test]
fn leave_during_the_first_publish_waits_for_its_delete_key() {
    let mut s = Session::new(cfg(), sim_identity(), [0; 32]);
    s.handle_input(Input::NetworkSettings {
        now: T0,
        settings: settings(&["1.1.1.1"], false),
    });
    let Some(Output::SendRequest { id, .. }) = s.poll_output() else {
        panic!()
    };
    s.handle_input(Input::PollSucceeded {
        now: T0 + 10,
        request_id: id,
        response: PollResponse::default(),
    });
    let Some(Output::SendRequest { id, body, .. }) = s.poll_output() else {
        panic!()
    };
    assert!(body.packages.is_some());
    s.handle_input(Input::Leave { now: T0 + 20 });
    assert_eq!(s.poll_output(), None);
    let response = PollResponse {
        delete_key: Some("key".into()),
        ..Default::default()
    };
    s.handle_input(Input::PollSucceeded {
        now: T0 + 30,
        request_id: id,
        response,
    });
    assert!(matches!(
        s.poll_output(),
        Some(Output::Event(SessionEvent::Published { .. }))
    ));
    let Some(Output::SendRequest {
        body, leave: true, ..
    }) = s.poll_output()
    else {
        panic!()
    };
    assert_eq!(body.delete_key.as_deref(), Some("key"));
    assert!(body.data.is_some(), "the worker needs d to delete");
}

#[test]
fn network_change_forces_a_republish() {
    let mut sim = Sim::new(cfg());
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 30_000);
    let before = sim.nodes[0].requests().len();
    sim.push(
        0,
        T0 + 30_000,
        Input::NetworkSettings {
            now: T0 + 30_000,
            settings: settings(&["203.0.113.1"], false),
        },
    );
    sim.run_until(T0 + 40_000);
    assert!(
        sim.nodes[0].requests()[before..]
            .iter()
            .all(|(_, r, _)| r.packages.is_none()),
        "same settings: no write"
    );
    let before = sim.nodes[0].requests().len();
    sim.push(
        0,
        T0 + 40_000,
        Input::NetworkSettings {
            now: T0 + 40_000,
            settings: settings(&["198.51.100.7"], false),
        },
    );
    sim.run_until(T0 + 50_000);
    let reqs = sim.nodes[0].requests();
    let (at, r, _) = &reqs[before];
    assert!(
        r.packages.is_some(),
        "changed settings are published at the next poll"
    );
    assert_eq!(r.data_timestamp, Some(*at as i64));
    assert_eq!(r.data.as_ref().unwrap().reflexive_ips, ["198.51.100.7"]);
}

#[test]
fn worker_errors_retry_at_the_slow_rate_and_report_recovery() {
    let mut sim = Sim::new(cfg());
    sim.worker_down = Some(PollError {
        status: Some(503),
        text: "Service Unavailable".into(),
    });
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 12_000);
    let times: Vec<u64> = sim.nodes[0].requests().iter().map(|(t, _, _)| *t).collect();
    assert_eq!(times, [T0 + 200, T0 + 5_200, T0 + 10_200]);
    let events = sim.nodes[0].events();
    assert_eq!(
        events[1],
        SessionEvent::SignallingError {
            status: Some(503),
            text: "Service Unavailable".into(),
            consecutive_failures: 2
        }
    );
    sim.worker_down = None;
    sim.run_until(T0 + 20_000);
    let events = sim.nodes[0].events();
    assert_eq!(
        events[3],
        SessionEvent::SignallingRecovered { after_failures: 3 }
    );
    assert!(matches!(events[4], SessionEvent::Published { .. }));
    // The first successful poll is still the read-only one.
    let reqs = sim.nodes[0].requests();
    assert!(reqs[3].1.data.is_none());
}

#[test]
fn rejected_request_reports_status_and_text() {
    let mut s = Session::new(cfg(), sim_identity(), [0; 32]);
    s.handle_input(Input::NetworkSettings {
        now: T0,
        settings: settings(&["1.1.1.1"], false),
    });
    let Some(Output::SendRequest { id, .. }) = s.poll_output() else {
        panic!()
    };
    let error = PollError {
        status: Some(400),
        text: "Bad timestamp".into(),
    };
    s.handle_input(Input::PollFailed {
        now: T0 + 10,
        request_id: id,
        error,
    });
    assert_eq!(
        s.poll_output(),
        Some(Output::Event(SessionEvent::SignallingError {
            status: Some(400),
            text: "Bad timestamp".into(),
            consecutive_failures: 1
        }))
    );
    assert_eq!(s.poll_timeout(), Some(T0 + 5000));
}

#[test]
fn stale_or_unknown_responses_are_ignored() {
    let mut s = Session::new(cfg(), sim_identity(), [0; 32]);
    s.handle_input(Input::NetworkSettings {
        now: T0,
        settings: settings(&["1.1.1.1"], false),
    });
    let Some(Output::SendRequest { id, .. }) = s.poll_output() else {
        panic!()
    };
    s.handle_input(Input::PollSucceeded {
        now: T0 + 1,
        request_id: id + 7,
        response: PollResponse::default(),
    });
    s.handle_input(Input::PeerConnected {
        now: T0 + 1,
        peer: SessionId::from_wire("nobody"),
    });
    s.handle_input(Input::InitiatorReady {
        now: T0 + 1,
        peer: SessionId::from_wire("nobody"),
        ufrag: "u".into(),
        pwd: "p".into(),
        dtls_fingerprint_b64: fingerprint(0),
        candidates: vec!["c".into()],
    });
    assert_eq!(s.poll_output(), None);
    assert_eq!(
        s.poll_timeout(),
        None,
        "still waiting for the request in flight"
    );
}
