//! The realm driven by simulation with synthetic time.

use super::*;

struct Sim {
    realm: Realm,
    out: Recorder,
    now: u64,
}

impl Sim {
    fn new() -> Self {
        Self::with(PeerJsConfig::default())
    }

    fn with(config: PeerJsConfig) -> Self {
        Self {
            realm: Realm::new(&config),
            out: Recorder::default(),
            now: 1_000,
        }
    }

    fn connect_query(&mut self, conn: ConnId, query: &str) -> bool {
        self.realm.connect(conn, query, self.now, &mut self.out)
    }

    fn join(&mut self, conn: ConnId, id: &str) {
        assert!(self.connect_query(conn, &format!("key=peerjs&id={id}&token=t{id}")));
        assert_eq!(self.frames(), [(conn, r#"{"type":"OPEN"}"#.to_owned())]);
    }

    fn send(&mut self, conn: ConnId, frame: &str) {
        self.realm
            .frame(conn, frame.as_bytes(), self.now, &mut self.out);
    }

    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + 100).min(end);
            self.realm.tick(self.now, &mut self.out);
        }
    }

    fn frames(&mut self) -> Vec<(ConnId, String)> {
        self.out.take_frames()
    }

    fn closes(&self) -> Vec<ConnId> {
        self.out
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Close { conn } => Some(*conn),
                _ => None,
            })
            .collect()
    }

    fn events(&self) -> Vec<RealmEvent> {
        self.out
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
}

fn s(frame: &str) -> String {
    frame.to_owned()
}

#[test]
fn new_id_gets_open() {
    let mut sim = Sim::new();
    sim.join(1, "alice");
    assert_eq!(sim.realm.registered(), 1);
    assert!(sim.closes().is_empty());
}

#[test]
fn missing_params_get_error_and_close() {
    for query in [
        "",
        "key=peerjs&id=a",
        "key=peerjs&token=t",
        "id=a&token=t",
        "key=peerjs&id=&token=t",
    ] {
        let mut sim = Sim::new();
        assert!(!sim.connect_query(1, query), "{query}");
        assert_eq!(
            sim.frames(),
            [(1, wire::error(wire::ERR_MISSING_PARAMS))],
            "{query}"
        );
        assert_eq!(sim.closes(), [1]);
    }
}

#[test]
fn params_are_checked_before_the_key() {
    let mut sim = Sim::new();
    sim.connect_query(1, "key=wrong&id=a");
    assert_eq!(sim.frames(), [(1, wire::error(wire::ERR_MISSING_PARAMS))]);
}

#[test]
fn wrong_key_gets_invalid_key_error() {
    let mut sim = Sim::new();
    assert!(!sim.connect_query(1, "key=nope&id=a&token=t"));
    assert_eq!(
        sim.frames(),
        [(
            1,
            s(r#"{"type":"ERROR","payload":{"msg":"Invalid key provided"}}"#)
        )]
    );
    assert_eq!(sim.closes(), [1]);
}

#[test]
fn ids_the_client_would_reject_get_an_error() {
    for id in ["a..b", "%20a", "a%2Fb", "-a", &"a".repeat(257)] {
        let mut sim = Sim::new();
        assert!(
            !sim.connect_query(1, &format!("key=peerjs&id={id}&token=t")),
            "{id}"
        );
        assert_eq!(sim.frames(), [(1, wire::error(wire::ERR_INVALID_ID))]);
        assert_eq!(sim.realm.registered(), 0);
    }
}

#[test]
fn decoded_ids_with_spaces_are_valid() {
    let mut sim = Sim::new();
    assert!(sim.connect_query(1, "key=peerjs&id=a+b%20c&token=t"));
    assert!(sim.realm.is_registered("a b c"));
}

#[test]
fn over_long_tokens_are_refused() {
    let mut sim = Sim::new();
    let token = "t".repeat(257);
    assert!(!sim.connect_query(1, &format!("key=peerjs&id=a&token={token}")));
    assert_eq!(sim.frames(), [(1, wire::error(wire::ERR_INVALID_TOKEN))]);
}

#[test]
fn taken_id_with_other_token_gets_id_taken_and_close() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    assert!(!sim.connect_query(2, "key=peerjs&id=a&token=other"));
    assert_eq!(
        sim.frames(),
        [(
            2,
            s(r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#)
        )]
    );
    assert_eq!(sim.closes(), [2]);
    assert!(sim.realm.is_registered("a"));
}

#[test]
fn same_token_reattach_gets_open_and_closes_the_old_socket() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    assert!(sim.connect_query(2, "key=peerjs&id=a&token=ta"));
    assert_eq!(sim.frames(), [(2, s(r#"{"type":"OPEN"}"#))]);
    assert_eq!(sim.closes(), [1]);
    sim.join(3, "b");
    sim.send(3, r#"{"type":"OFFER","dst":"a","payload":1}"#);
    assert_eq!(
        sim.frames(),
        [(2, s(r#"{"type":"OFFER","src":"b","dst":"a","payload":1}"#))]
    );
}

#[test]
fn old_socket_closing_after_reattach_keeps_the_id() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.connect_query(2, "key=peerjs&id=a&token=ta");
    sim.realm.close(1, sim.now, &mut sim.out);
    assert!(sim.realm.is_registered("a"));
    sim.send(1, r#"{"type":"HEARTBEAT"}"#);
    assert!(sim.events().contains(&RealmEvent::Dropped {
        conn: 1,
        why: Dropped::Unregistered
    }));
}

#[test]
fn reattach_bypasses_the_limit_but_new_ids_do_not() {
    let mut sim = Sim::with(PeerJsConfig {
        concurrent_limit: 1,
        ..PeerJsConfig::default()
    });
    sim.join(1, "a");
    assert!(!sim.connect_query(2, "key=peerjs&id=b&token=t"));
    assert_eq!(sim.frames(), [(2, wire::error(wire::ERR_LIMIT))]);
    assert_eq!(sim.closes(), [2]);
    assert!(sim.connect_query(3, "key=peerjs&id=a&token=ta"));
}

#[test]
fn relay_overwrites_src_and_forwards_only_four_fields() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.join(2, "b");
    sim.send(1, r#"{"src":"mallory","type":"OFFER","extra":true,"dst":"b","payload":{"sdp":"v=0","connectionId":"dc_1"}}"#);
    assert_eq!(
        sim.frames(),
        [(
            2,
            s(
                r#"{"type":"OFFER","src":"a","dst":"b","payload":{"sdp":"v=0","connectionId":"dc_1"}}"#
            )
        )]
    );
}

#[test]
fn answer_candidate_leave_expire_are_relayed_to_online_peers() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.join(2, "b");
    for kind in ["ANSWER", "CANDIDATE", "LEAVE", "EXPIRE"] {
        sim.send(1, &format!(r#"{{"type":"{kind}","dst":"b"}}"#));
        assert_eq!(
            sim.frames(),
            [(2, format!(r#"{{"type":"{kind}","src":"a","dst":"b"}}"#))]
        );
    }
}

#[test]
fn messages_to_self_are_relayed() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.send(1, r#"{"type":"CANDIDATE","dst":"a","payload":{}}"#);
    assert_eq!(
        sim.frames(),
        [(
            1,
            s(r#"{"type":"CANDIDATE","src":"a","dst":"a","payload":{}}"#)
        )]
    );
}

#[test]
fn invalid_and_unknown_frames_change_nothing_and_the_socket_keeps_working() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.join(2, "b");
    for junk in [
        "not json",
        "{",
        "[]",
        "42",
        r#"{"type":"HELLO","dst":"b"}"#,
        r#"{"type":"OFFER"}"#,
        r#"{"type":"OFFER","dst":7}"#,
    ] {
        sim.send(1, junk);
    }
    assert!(sim.frames().is_empty());
    assert!(sim.closes().is_empty());
    sim.send(1, r#"{"type":"OFFER","dst":"b"}"#);
    assert_eq!(sim.frames().len(), 1);
}

#[test]
fn frames_from_unregistered_sockets_are_ignored() {
    let mut sim = Sim::new();
    sim.connect_query(1, "key=bad&id=a&token=t");
    sim.frames();
    sim.send(1, r#"{"type":"OFFER","dst":"b"}"#);
    assert_eq!(sim.realm.queued_messages(), 0);
}

#[test]
fn heartbeat_keeps_a_client_alive_and_silence_disconnects_it() {
    let mut sim = Sim::with(PeerJsConfig {
        alive_timeout_ms: 10_000,
        ..PeerJsConfig::default()
    });
    sim.join(1, "a");
    sim.join(2, "b");
    for _ in 0..4 {
        sim.advance(5_000);
        sim.send(1, r#"{"type":"HEARTBEAT"}"#);
    }
    assert!(sim.realm.is_registered("a"));
    assert!(!sim.realm.is_registered("b"));
    assert_eq!(sim.closes(), [2]);
    assert!(sim.events().contains(&RealmEvent::Disconnected {
        id: "b".into(),
        why: Gone::TimedOut
    }));
}

#[test]
fn other_traffic_does_not_refresh_liveness() {
    let mut sim = Sim::with(PeerJsConfig {
        alive_timeout_ms: 10_000,
        ..PeerJsConfig::default()
    });
    sim.join(1, "a");
    for _ in 0..3 {
        sim.advance(4_000);
        sim.send(1, r#"{"type":"CANDIDATE","dst":"a"}"#);
    }
    assert!(!sim.realm.is_registered("a"));
}

#[test]
fn silence_is_reaped_within_the_check_interval() {
    let mut sim = Sim::with(PeerJsConfig {
        alive_timeout_ms: 1_000,
        ..PeerJsConfig::default()
    });
    sim.join(1, "a");
    sim.advance(900);
    assert!(sim.realm.is_registered("a"));
    sim.advance(CHECK_INTERVAL_MS + 100);
    assert!(!sim.realm.is_registered("a"));
}

#[test]
fn queued_messages_are_delivered_in_order_right_after_open() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.join(2, "b");
    sim.send(1, r#"{"type":"OFFER","dst":"c","payload":1}"#);
    sim.send(2, r#"{"type":"CANDIDATE","dst":"c","payload":2}"#);
    sim.send(1, r#"{"type":"CANDIDATE","dst":"c","payload":3}"#);
    assert!(sim.frames().is_empty());
    sim.advance(2_000);
    assert!(sim.connect_query(3, "key=peerjs&id=c&token=t"));
    assert_eq!(
        sim.frames(),
        [
            (3, s(r#"{"type":"OPEN"}"#)),
            (3, s(r#"{"type":"OFFER","src":"a","dst":"c","payload":1}"#)),
            (
                3,
                s(r#"{"type":"CANDIDATE","src":"b","dst":"c","payload":2}"#)
            ),
            (
                3,
                s(r#"{"type":"CANDIDATE","src":"a","dst":"c","payload":3}"#)
            ),
        ]
    );
    assert_eq!(sim.realm.queued_bytes(), 0);
    sim.advance(10_000);
    assert!(sim.frames().is_empty(), "a delivered queue never expires");
}

#[test]
fn one_expire_per_sender_after_the_expire_timeout() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.join(2, "b");
    sim.send(1, r#"{"type":"OFFER","dst":"c"}"#);
    sim.send(1, r#"{"type":"CANDIDATE","dst":"c"}"#);
    sim.send(2, r#"{"type":"OFFER","dst":"c"}"#);
    sim.send(1, r#"{"type":"OFFER","dst":"d"}"#);
    sim.advance(4_900);
    assert!(sim.frames().is_empty());
    sim.advance(100);
    let mut frames = sim.frames();
    frames.sort();
    assert_eq!(
        frames,
        [
            (1, s(r#"{"type":"EXPIRE","src":"c","dst":"a"}"#)),
            (1, s(r#"{"type":"EXPIRE","src":"d","dst":"a"}"#)),
            (2, s(r#"{"type":"EXPIRE","src":"c","dst":"b"}"#)),
        ]
    );
    sim.advance(10_000);
    assert!(sim.frames().is_empty());
    assert_eq!(sim.realm.queued_messages(), 0);
}

#[test]
fn expire_goes_nowhere_when_the_sender_left() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.send(1, r#"{"type":"OFFER","dst":"c"}"#);
    sim.realm.close(1, sim.now, &mut sim.out);
    sim.advance(6_000);
    assert!(sim.frames().is_empty());
    assert_eq!(sim.realm.queued_messages(), 0);
}

#[test]
fn leave_and_expire_for_offline_ids_are_dropped_not_queued() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.send(1, r#"{"type":"LEAVE","dst":"c"}"#);
    sim.send(1, r#"{"type":"EXPIRE","dst":"c"}"#);
    assert_eq!(sim.realm.queued_messages(), 0);
    sim.advance(6_000);
    assert!(sim.frames().is_empty());
}

#[test]
fn relay_to_a_dead_socket_answers_leave_and_closes_it() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.join(2, "b");
    sim.out.dead.insert(2);
    sim.send(1, r#"{"type":"OFFER","dst":"b","payload":{}}"#);
    assert_eq!(
        sim.frames(),
        [(1, s(r#"{"type":"LEAVE","src":"b","dst":"a"}"#))]
    );
    assert_eq!(sim.closes(), [2]);
    assert!(!sim.realm.is_registered("b"));
    assert!(sim.events().contains(&RealmEvent::Disconnected {
        id: "b".into(),
        why: Gone::Unreachable
    }));
}

#[test]
fn leave_without_dst_deregisters_and_closes_the_sender() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.send(1, r#"{"type":"LEAVE"}"#);
    assert!(!sim.realm.is_registered("a"));
    assert_eq!(sim.closes(), [1]);
}

#[test]
fn after_leave_a_new_holder_survives_the_old_socket_closing() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.send(1, r#"{"type":"LEAVE","dst":null}"#);
    assert!(sim.connect_query(2, "key=peerjs&id=a&token=new"));
    sim.realm.close(1, sim.now, &mut sim.out);
    assert!(sim.realm.is_registered("a"));
    sim.send(1, r#"{"type":"OFFER","dst":"a"}"#);
    assert_eq!(
        sim.frames(),
        [(2, s(r#"{"type":"OPEN"}"#))],
        "the old socket no longer speaks for a"
    );
}

#[test]
fn closing_a_socket_deregisters_its_id() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.realm.close(1, sim.now, &mut sim.out);
    assert!(!sim.realm.is_registered("a"));
    assert!(
        sim.connect_query(2, "key=peerjs&id=a&token=other"),
        "the id is free again"
    );
}

#[test]
fn per_destination_cap_refuses_and_expires_the_sender_once() {
    let mut sim = Sim::with(PeerJsConfig {
        queue_max_messages_per_peer: 2,
        ..PeerJsConfig::default()
    });
    sim.join(1, "a");
    sim.join(2, "b");
    sim.send(1, r#"{"type":"OFFER","dst":"c"}"#);
    sim.send(1, r#"{"type":"CANDIDATE","dst":"c"}"#);
    sim.send(1, r#"{"type":"CANDIDATE","dst":"c"}"#);
    assert!(
        sim.frames().is_empty(),
        "a already waits for an EXPIRE for c"
    );
    sim.send(2, r#"{"type":"OFFER","dst":"c"}"#);
    assert_eq!(
        sim.frames(),
        [(2, s(r#"{"type":"EXPIRE","src":"c","dst":"b"}"#))]
    );
    assert_eq!(sim.realm.queued_messages(), 2);
}

#[test]
fn flood_to_offline_ids_stays_within_the_byte_caps() {
    let config = PeerJsConfig {
        queue_max_bytes_total: 50_000,
        queue_max_bytes_per_sender: 20_000,
        ..PeerJsConfig::default()
    };
    let mut sim = Sim::with(config);
    let payload = "x".repeat(1000);
    for conn in 1..=5 {
        sim.out.take();
        sim.join(conn, &format!("s{conn}"));
        for i in 0..1000 {
            sim.send(
                conn,
                &format!(r#"{{"type":"OFFER","dst":"nobody{i}","payload":"{payload}"}}"#),
            );
            assert!(sim.realm.queued_bytes() <= 50_000);
        }
    }
    assert!(
        sim.realm.queued_bytes() > 40_000,
        "caps are reached, not undershot"
    );
    sim.advance(6_000);
    assert_eq!(sim.realm.queued_bytes(), 0);
}

#[test]
fn binary_frames_are_read_as_text() {
    let mut sim = Sim::new();
    sim.join(1, "a");
    sim.join(2, "b");
    sim.realm
        .frame(1, br#"{"type":"ANSWER","dst":"b"}"#, sim.now, &mut sim.out);
    assert_eq!(
        sim.frames(),
        [(2, s(r#"{"type":"ANSWER","src":"a","dst":"b"}"#))]
    );
}
