mod lifecycle;
mod sim;

use sim::{fingerprint, Sim, T0};

use super::*;
use crate::wire::PeerData;
use crate::ClientId;

pub(super) fn cfg() -> ClientConfig {
    ClientConfig {
        stun_ice_servers: vec![crate::IceServer::new("stun:127.0.0.1:3478")],
        turn_ice_servers: vec![crate::IceServer::new("turn:127.0.0.1:3478")],
        ..ClientConfig::default()
    }
}

pub(super) fn created_initiators(sim: &Sim, i: usize) -> Vec<(u64, CreateInitiator)> {
    sim.nodes[i].outputs(|o| match o {
        Output::CreateInitiator(c) => Some(c.clone()),
        _ => None,
    })
}

pub(super) fn created_answerers(sim: &Sim, i: usize) -> Vec<(u64, CreateAnswerer)> {
    sim.nodes[i].outputs(|o| match o {
        Output::CreateAnswerer(c) => Some(c.clone()),
        _ => None,
    })
}

pub(super) fn destroyed(sim: &Sim, i: usize) -> Vec<(u64, (SessionId, DestroyReason))> {
    sim.nodes[i].outputs(|o| match o {
        Output::DestroyPeer { peer, reason } => Some((peer.clone(), *reason)),
        _ => None,
    })
}

pub(super) fn static_peer(session: &str, joined_at: i64, symmetric: bool) -> PeerData {
    PeerData {
        session_id: SessionId::from_wire(session),
        client_id: ClientId::from_wire("static"),
        is_symmetric: symmetric,
        dtls_fingerprint_b64: fingerprint(9),
        joined_at_ms: joined_at,
        reflexive_ips: vec!["198.51.100.9".into()],
    }
}

#[test]
fn first_poll_is_read_only_and_an_empty_room_publishes_at_once() {
    let mut sim = Sim::new(cfg());
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 1000);
    let reqs = sim.nodes[0].requests();
    let (t0, first, _) = &reqs[0];
    assert_eq!(*t0, T0 + 200, "first poll when network settings arrive");
    assert!(first.data.is_none() && first.packages.is_none() && first.data_timestamp.is_none());
    let (t1, publish, leave) = &reqs[1];
    assert_eq!(*t1, T0 + 250, "publish right after the empty answer");
    assert!(!leave);
    let d = publish.data.as_ref().unwrap();
    assert_eq!(d.reflexive_ips, ["203.0.113.1"]);
    assert_eq!(d.joined_at_ms, T0 as i64);
    assert_eq!(publish.data_timestamp, Some((T0 + 200) as i64));
    assert_eq!(publish.expiration_ms, Some(120_000));
    assert_eq!(publish.packages.as_deref(), Some(&[][..]));
    assert_eq!(
        sim.nodes[0].events(),
        [SessionEvent::Published {
            delete_key: "dk1".into()
        }]
    );
    assert!(sim.worker.has_entry("ctx0"));
}

#[test]
fn two_peers_pick_roles_exchange_packages_and_connect() {
    let mut sim = Sim::new(cfg());
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.add_node(T0 + 1000, false, &["203.0.113.2"]);
    sim.run_until(T0 + 20_000);

    // The earlier joiner is peer B (initiator); the later one is A.
    let inits = created_initiators(&sim, 0);
    assert_eq!(inits.len(), 1);
    let b = &inits[0].1;
    assert_eq!(b.peer.as_str(), "sess1");
    assert_eq!(b.client_id.as_str(), "client1");
    assert_eq!(b.remote_dtls_fingerprint_b64, fingerprint(1));
    assert_eq!(b.remote_reflexive_ips, ["203.0.113.2"]);
    assert_eq!(b.ice_servers, cfg().stun_ice_servers);
    assert!(created_answerers(&sim, 0).is_empty());
    assert!(created_initiators(&sim, 1).is_empty());

    // A receives B's package: B's offer credentials and candidates, and the credentials
    // B invented for A.
    let answers = created_answerers(&sim, 1);
    assert_eq!(answers.len(), 1);
    let a = &answers[0].1;
    assert_eq!(a.peer.as_str(), "sess0");
    assert_eq!(
        (a.remote_ufrag.as_str(), a.remote_pwd.as_str()),
        ("ufrag0", "pwd0")
    );
    assert_eq!(a.remote_dtls_fingerprint_b64, fingerprint(0));
    assert_eq!(
        a.remote_candidates,
        ["candidate:1 1 udp 2122260223 10.0.0.0 5000 typ host"]
    );
    assert_eq!(
        (&a.local_ufrag, &a.local_pwd),
        (&b.ufrag_for_remote, &b.pwd_for_remote)
    );
    assert_eq!(a.local_ufrag.len(), 16);
    assert_eq!(a.local_pwd.len(), 43);

    // B receives A's candidate package.
    let added = sim.nodes[0].outputs(|o| match o {
        Output::AddRemoteCandidates { peer, candidates } => {
            Some((peer.clone(), candidates.clone()))
        }
        _ => None,
    });
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].1 .0.as_str(), "sess1");
    assert_eq!(
        added[0].1 .1,
        ["candidate:2 1 udp 2122260223 10.0.1.1 6000 typ host"]
    );

    // Both connected, nothing destroyed, packages dropped once connected.
    for i in 0..2 {
        assert!(sim.nodes[i].session.peers().all(|(_, connected)| connected));
        assert_eq!(sim.nodes[i].session.peers().count(), 1);
        assert!(destroyed(&sim, i).is_empty());
        assert!(sim.nodes[i].session.pending_packages().is_empty());
    }
}

#[test]
fn handshake_polls_at_the_handshake_rate_and_publishes_packages_at_once() {
    let mut sim = Sim::new(cfg());
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.add_node(T0 + 1000, false, &["203.0.113.2"]);
    sim.run_until(T0 + 20_000);
    let (created_at, _) = created_initiators(&sim, 0)[0].clone();
    let connected_at = created_answerers(&sim, 1)[0].0 + sim.connect_ms;
    let times: Vec<u64> = sim.nodes[0]
        .requests()
        .iter()
        .map(|(t, _, _)| *t)
        .filter(|t| *t > created_at && *t <= connected_at)
        .collect();
    assert!(times.len() >= 4, "{times:?}");
    for w in times.windows(2) {
        assert!(w[1] - w[0] <= 250, "gap {} in {times:?}", w[1] - w[0]);
    }
    // B's package goes out as soon as gathering completes.
    let reqs = sim.nodes[0].requests();
    let with_pkg = reqs
        .iter()
        .find(|(_, r, _)| r.packages.as_ref().is_some_and(|p| !p.is_empty()))
        .unwrap();
    assert_eq!(with_pkg.0, created_at + sim.gather_ms);
}

#[test]
fn symmetric_side_is_peer_a_and_turn_is_used() {
    let mut sim = Sim::new(cfg());
    sim.add_node(T0, true, &["203.0.113.1"]); // joined first but symmetric → A
    sim.add_node(T0 + 1000, false, &["203.0.113.2"]);
    sim.run_until(T0 + 20_000);
    assert!(created_initiators(&sim, 0).is_empty());
    let b = &created_initiators(&sim, 1)[0].1;
    assert_eq!(b.ice_servers, cfg().turn_ice_servers);
    let a = &created_answerers(&sim, 0)[0].1;
    assert_eq!(a.ice_servers, cfg().turn_ice_servers);
}

#[test]
fn equal_join_times_break_ties_by_session_id() {
    let mut sim = Sim::new(cfg());
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.add_node(T0, false, &["203.0.113.2"]);
    sim.run_until(T0 + 20_000);
    // "sess1" > "sess0": node 1 is A.
    assert_eq!(created_initiators(&sim, 0).len(), 1);
    assert_eq!(created_answerers(&sim, 1).len(), 1);
}

#[test]
fn packages_only_on_change_and_heartbeat_refreshes_data() {
    let mut sim = Sim::new(cfg());
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 300_000);
    let reqs = sim.nodes[0].requests();
    let mut last_t = None;
    let mut beats = Vec::new();
    for (at, r, _) in &reqs[1..] {
        assert!(r.data.is_some(), "every later poll sends d");
        if r.packages.is_some() {
            assert_eq!(
                r.data_timestamp,
                Some(*at as i64 - if beats.is_empty() { 50 } else { 0 })
            );
            beats.push(*at);
            last_t = r.data_timestamp;
        } else {
            assert_eq!(r.data_timestamp, last_t, "t unchanged without p");
        }
    }
    // Heartbeat when now - t >= 120 s - 30 s, on the first poll after that.
    assert!(beats.len() >= 3, "{beats:?}");
    for w in beats.windows(2).skip(1) {
        let gap = w[1] - w[0];
        assert!((90_000..95_000).contains(&gap), "heartbeat gap {gap}");
    }
    assert_eq!(sim.worker.writes.len(), beats.len());
}

#[test]
fn polling_is_fast_while_the_peer_list_changes_then_slow() {
    let mut sim = Sim::new(cfg());
    // A peer that joined earlier and never polls: we are A, we never get a package, so
    // the peer list "changes" at every poll (as in P2PCF) until it expires.
    sim.worker.insert_static(
        "static",
        static_peer("zzz", (T0 - 5000) as i64, false),
        1,
        T0 + 40_000,
    );
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 100_000);
    let times: Vec<u64> = sim.nodes[0].requests().iter().map(|(t, _, _)| *t).collect();
    let last_seen = times
        .iter()
        .copied()
        .filter(|t| *t < T0 + 40_000)
        .max()
        .unwrap();
    // The peer is seen from the first poll: for the connect timeout we wait on its package at
    // the handshake rate, then P2PCF's fast rate (back on the 500 ms grid), then slow.
    let first_seen = times[0];
    let handshake_until = first_seen + cfg().connect_timeout_ms;
    assert!(times.iter().filter(|t| **t < handshake_until).count() > 50);
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        if w[1] < handshake_until {
            assert_eq!(
                gap,
                cfg().handshake_polling_rate_ms,
                "handshake rate at {}",
                w[1] - T0
            );
        } else if w[0] < handshake_until + 500 {
            // The wait is timed from the first answer, a little after the first request.
            let ok = gap == cfg().handshake_polling_rate_ms || (1500..2000).contains(&gap);
            assert!(ok, "back to the grid at {}: {gap}", w[1] - T0);
        } else if w[1] <= last_seen + 10_000 {
            assert_eq!(gap, 1500, "fast at {}", w[1] - T0);
        } else if w[0] >= last_seen + 10_000 {
            assert_eq!(gap, 5000, "slow at {}", w[1] - T0);
        }
    }
    assert!(times.iter().any(|t| *t > last_seen + 30_000));
}

#[test]
fn idle_polling_after_quiet_period_and_infinite_idle_rate_stops() {
    let mut c = cfg();
    c.idle_polling_after_ms = Some(20_000);
    c.idle_polling_rate_ms = Some(30_000);
    let mut sim = Sim::new(c.clone());
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 200_000);
    let times: Vec<u64> = sim.nodes[0].requests().iter().map(|(t, _, _)| *t).collect();
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter()
            .skip_while(|g| **g != 30_000)
            .all(|g| *g == 30_000),
        "{gaps:?}"
    );
    assert!(gaps.contains(&5000) && gaps.contains(&30_000), "{gaps:?}");

    c.idle_polling_rate_ms = None;
    let mut sim = Sim::new(c);
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 60_000);
    let n = sim.nodes[0].requests().len();
    assert_eq!(sim.nodes[0].session.poll_timeout(), None);
    sim.run_until(T0 + 600_000);
    assert_eq!(
        sim.nodes[0].requests().len(),
        n,
        "no polling after going idle"
    );
}

#[test]
fn packages_older_than_a_minute_are_dropped_before_publishing() {
    let mut c = cfg();
    c.connect_timeout_ms = 300_000;
    let mut sim = Sim::new(c);
    // Joined later than us and never answers: we are B, our package is never used.
    sim.worker.insert_static(
        "static",
        static_peer("zzz", (T0 + 5000) as i64, false),
        1,
        T0 + 900_000,
    );
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.run_until(T0 + 200_000);
    let (created, _) = created_initiators(&sim, 0)[0];
    let published: Vec<(u64, usize)> = sim.nodes[0]
        .requests()
        .iter()
        .filter_map(|(t, r, _)| r.packages.as_ref().map(|p| (*t, p.len())))
        .collect();
    assert!(
        published
            .iter()
            .any(|(t, n)| *n == 1 && *t < created + 60_000),
        "{published:?}"
    );
    let first_empty_after = published
        .iter()
        .find(|(t, n)| *t > created && *n == 0)
        .unwrap();
    assert!(first_empty_after.0 > created + 60_000, "{published:?}");
    assert!(sim.nodes[0].session.pending_packages().is_empty());
}

#[test]
fn unconnected_peer_is_destroyed_after_the_connect_timeout_and_recreated_on_new_data() {
    let mut sim = Sim::new(cfg());
    sim.auto_connect = false;
    sim.add_node(T0, false, &["203.0.113.1"]);
    sim.add_node(T0 + 1000, false, &["203.0.113.2"]);
    sim.run_until(T0 + 200_000);
    let inits = created_initiators(&sim, 0);
    let gone = destroyed(&sim, 0);
    assert!(
        inits.len() >= 2,
        "recreated after the remote's heartbeat: {inits:?}"
    );
    assert_eq!(
        gone[0].1,
        (SessionId::from_wire("sess1"), DestroyReason::ConnectTimeout)
    );
    assert_eq!(gone[0].0, inits[0].0 + 15_000);
    // Not recreated from the same remote data: only after node 1 republished (heartbeat).
    let heartbeat = sim
        .worker
        .writes
        .iter()
        .filter(|(k, _)| k == "ctx1")
        .nth(1)
        .unwrap()
        .1 as u64;
    assert!(inits[1].0 >= heartbeat, "{} < {heartbeat}", inits[1].0);
    let a_gone = destroyed(&sim, 1);
    assert_eq!(a_gone[0].1 .1, DestroyReason::ConnectTimeout);
    assert_eq!(a_gone[0].0, created_answerers(&sim, 1)[0].0 + 15_000);
}

pub(super) fn sim_identity() -> LocalIdentity {
    LocalIdentity {
        room_id: crate::RoomId::new("testroom").unwrap(),
        session_id: SessionId::from_wire("me"),
        context_id: crate::ContextId::from_wire("ctx"),
        client_id: ClientId::new("client").unwrap(),
        dtls_fingerprint_b64: fingerprint(0),
        joined_at_ms: T0,
    }
}

#[test]
fn room_change_announcement_polls_at_once() {
    let run = |announce: Option<u64>| {
        let mut sim = Sim::new(cfg());
        sim.add_node(T0, false, &["203.0.113.1"]);
        if let Some(at) = announce {
            sim.run_until(at - 1);
            sim.push(0, at, Input::RoomChanged { now: at });
        }
        sim.run_until(T0 + 40_000);
        sim.nodes[0]
            .requests()
            .iter()
            .map(|(t, _, _)| *t)
            .collect::<Vec<u64>>()
    };
    // Alone in the room: after the fast window the node polls every 5 s.
    let at = T0 + 31_234;
    let quiet = run(None);
    let announced = run(Some(at));
    assert!(!quiet.contains(&at));
    assert!(
        announced.contains(&at),
        "polled at the announcement: {announced:?}"
    );
    assert_eq!(announced.len(), quiet.len() + 1, "exactly one extra poll");
}
