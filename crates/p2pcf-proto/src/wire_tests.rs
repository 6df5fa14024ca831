use super::*;

fn sid(s: &str) -> SessionId {
    SessionId::from_wire(s)
}

fn peer_data() -> PeerData {
    PeerData {
        session_id: sid("sessA"),
        client_id: ClientId::from_wire("alice"),
        is_symmetric: false,
        dtls_fingerprint_b64: "q".repeat(43) + "=",
        joined_at_ms: 1_700_000_000_000,
        reflexive_ips: vec!["1.2.3.4".into()],
    }
}

#[test]
fn request_serializes_with_worker_keys_and_array_shapes() {
    let req = PollRequest {
        room: RoomId::new("room1").unwrap(),
        context: ContextId::from_wire("ctx"),
        delete_key: None,
        data: Some(peer_data()),
        data_timestamp: Some(5),
        expiration_ms: Some(120000),
        packages: Some(vec![Package {
            to: sid("B"),
            from: sid("sessA"),
            ufrag: None,
            pwd: None,
            dtls_fingerprint_b64: None,
            ufrag_for_remote: None,
            pwd_for_remote: None,
            created_at_ms: 7,
            candidates: vec!["candidate:1 1 udp 1 1.1.1.1 1 typ host".into()],
        }]),
    };
    let json = req.to_json();
    let fp = "q".repeat(43) + "=";
    assert_eq!(
        json,
        format!(
            r#"{{"r":"room1","k":"ctx","d":["sessA","alice",false,"{fp}",1700000000000,["1.2.3.4"]],"t":5,"x":120000,"p":[["B","sessA",null,null,null,null,null,7,["candidate:1 1 udp 1 1.1.1.1 1 typ host"]]]}}"#
        )
    );
    let back: PollRequest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, req);
}

#[test]
fn first_poll_request_is_room_and_context_only() {
    let req = PollRequest {
        room: RoomId::new("room1").unwrap(),
        context: ContextId::from_wire("ctx"),
        delete_key: None,
        data: None,
        data_timestamp: None,
        expiration_ms: None,
        packages: None,
    };
    assert_eq!(req.to_json(), r#"{"r":"room1","k":"ctx"}"#);
}

#[test]
fn response_parses_worker_output_and_round_trips() {
    let body = br#"{"ps":[["s1","bob",true,"ZmFrZQ==",12,["9.9.9.9","::1"],34]],
        "pk":[["me","s1","u","p","ZmFrZQ==","uu","pp",99,["candidate:x"]]],"dk":"key"}"#;
    let r = PollResponse::from_json(body).unwrap();
    assert_eq!(r.peers.len(), 1);
    assert_eq!(r.peers[0].data.client_id.as_str(), "bob");
    assert!(r.peers[0].data.is_symmetric);
    assert_eq!(r.peers[0].data_timestamp, 34);
    assert_eq!(r.packages[0].ufrag_for_remote.as_deref(), Some("uu"));
    assert_eq!(r.delete_key.as_deref(), Some("key"));
    let again = PollResponse::from_json(serde_json::to_string(&r).unwrap().as_bytes()).unwrap();
    assert_eq!(again, r);
}

#[test]
fn leave_answer_reads_as_empty() {
    let r = PollResponse::from_json(b"{}").unwrap();
    assert_eq!(r, PollResponse::default());
}

#[test]
fn malformed_items_are_skipped_not_fatal() {
    let body = br#"{"ps":[
        ["s1","bob",true,"x",12,[],34],
        ["short"],
        ["s2","bob","yes","x",12,[],34],
        ["s3","bob",false,"x",1.5e3,[],2.7],
        ["s4","bob",false,"x",12,[1],34],
        42, null, {"a":1}
    ],"pk":[["a","b",1,null,null,null,null,1,[]], ["a","b",null,null,null,null,null,1,[]]]}"#;
    let r = PollResponse::from_json(body).unwrap();
    let ids: Vec<_> = r.peers.iter().map(|p| p.data.session_id.as_str()).collect();
    assert_eq!(ids, ["s1", "s3"]);
    assert_eq!(r.peers[1].data.joined_at_ms, 1500);
    assert_eq!(r.peers[1].data_timestamp, 2);
    assert_eq!(r.packages.len(), 1);
    assert_eq!(r.skipped_items, 7);
}

#[test]
fn junk_bodies_are_errors_not_panics() {
    for body in [
        &b""[..],
        b"null",
        b"[]",
        b"\"x\"",
        b"{\"ps\":5}",
        b"{\"pk\":{}}",
        b"Bad room id x",
        b"\xff\xfe",
        b"{\"ps\":[[\"a\",\"b\",true,\"x\",1e400,[],1]]}",
    ] {
        assert!(PollResponse::from_json(body).is_err() || body.starts_with(b"{\"ps\":[["));
    }
    let r = PollResponse::from_json(b"{\"ps\":[[\"a\",\"b\",true,\"x\",1e300,[],1]]}").unwrap();
    assert_eq!(r.skipped_items, 1);
}
