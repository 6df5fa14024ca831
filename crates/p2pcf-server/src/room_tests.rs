//! Room operations with synthetic time.

use serde_json::{json, Value};

use super::*;
use crate::request::{leave_request, parse_body, poll_request};

const NOW: f64 = 1_700_000_000_000.0;
const DTLS: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

fn body(ctx: &str, session: &str, t: f64, p: Option<Value>) -> Value {
    let mut v = json!({
        "r": "room1", "k": ctx, "t": t, "x": 120000,
        "d": [session, format!("client-{ctx}"), false, DTLS, 1_699_999_000_000u64, ["1.2.3.4"]],
    });
    if let Some(p) = p {
        v["p"] = p;
    }
    v
}

fn poll(room: &mut Room, v: &Value, now: f64) -> PollOutcome {
    let map = parse_body(v.to_string().as_bytes());
    let req = poll_request(&map, now).expect("valid request");
    room.poll(&req, now, &format!("key-{}", v["k"].as_str().unwrap_or("")))
}

fn answer(outcome: &PollOutcome) -> Value {
    serde_json::from_str(&outcome.body).expect("answer is JSON")
}

fn sessions(outcome: &PollOutcome) -> Vec<String> {
    answer(outcome)["ps"]
        .as_array()
        .expect("ps")
        .iter()
        .map(|p| p[0].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn publish_then_others_see_the_entry_but_not_their_own() {
    let mut room = Room::default();
    let a = poll(&mut room, &body("ctxA", "sA", NOW, Some(json!([]))), NOW);
    assert!(a.joined && a.changed);
    assert_eq!(a.body, r#"{"ps":[],"pk":[],"dk":"key-ctxA"}"#);
    let b = poll(&mut room, &body("ctxB", "sB", NOW, Some(json!([]))), NOW);
    assert_eq!(sessions(&b), vec!["sA"]);
    assert_eq!(
        answer(&b)["ps"][0],
        json!([
            "sA",
            "client-ctxA",
            false,
            DTLS,
            1_699_999_000_000u64,
            ["1.2.3.4"],
            NOW as u64
        ])
    );
    let a2 = poll(&mut room, &body("ctxA", "sA", NOW, None), NOW);
    assert_eq!(sessions(&a2), vec!["sB"]);
    assert!(
        answer(&a2).get("dk").is_none(),
        "dk only when d and p are sent"
    );
}

#[test]
fn read_only_poll_without_d_lists_everyone_but_k() {
    let mut room = Room::default();
    poll(&mut room, &body("ctxA", "sA", NOW, Some(json!([]))), NOW);
    let map = parse_body(br#"{"r":"room1"}"#);
    let req = poll_request(&map, NOW).expect("valid");
    let out = room.poll(&req, NOW, "unused");
    assert_eq!(sessions(&out), vec!["sA"]);
    assert!(!out.changed);
    let map = parse_body(br#"{"r":"room1","k":"ctxA"}"#);
    let req = poll_request(&map, NOW).expect("valid");
    assert_eq!(room.poll(&req, NOW, "unused").body, r#"{"ps":[],"pk":[]}"#);
}

#[test]
fn republish_keeps_delete_key_and_slot_and_skips_write_when_t_is_unchanged() {
    let mut room = Room::default();
    poll(&mut room, &body("ctxA", "sA", NOW, Some(json!([]))), NOW);
    poll(&mut room, &body("ctxB", "sB", NOW, Some(json!([]))), NOW);
    let same = poll(
        &mut room,
        &body("ctxA", "sA", NOW, Some(json!([["sB", "x"]]))),
        NOW,
    );
    assert!(!same.changed && !same.joined);
    assert_eq!(answer(&same)["dk"], "key-ctxA");
    // Same t: the packages were not written.
    assert_eq!(
        answer(&poll(&mut room, &body("ctxB", "sB", NOW, None), NOW))["pk"],
        json!([])
    );
    let newer = poll(
        &mut room,
        &body("ctxA", "sA", NOW + 1.0, Some(json!([["sB", "x"]]))),
        NOW,
    );
    assert!(newer.changed && !newer.joined);
    assert_eq!(answer(&newer)["dk"], "key-ctxA");
    assert_eq!(room.slots.len(), 2);
    assert_eq!(
        room.slots[0].as_ref().map(|e| e.context_id.as_str()),
        Some("ctxA")
    );
    let b = poll(&mut room, &body("ctxB", "sB", NOW, None), NOW);
    assert_eq!(answer(&b)["pk"], json!([["sB", "x"]]));
}

#[test]
fn packages_go_only_to_the_named_session_and_need_d() {
    let mut room = Room::default();
    let p = json!([["sB", 1], ["sC", 2], ["sB", 3], null, "sB", {"0": "sB"}, [5]]);
    poll(&mut room, &body("ctxA", "sA", NOW, Some(p)), NOW);
    let b = poll(&mut room, &body("ctxB", "sB", NOW, None), NOW);
    assert_eq!(answer(&b)["pk"], json!([["sB", 1], ["sB", 3]]));
    let c = poll(&mut room, &body("ctxC", "sC", NOW, None), NOW);
    assert_eq!(answer(&c)["pk"], json!([["sC", 2]]));
    let map = parse_body(br#"{"r":"room1","k":"ctxB"}"#);
    let req = poll_request(&map, NOW).expect("valid");
    assert_eq!(answer(&room.poll(&req, NOW, ""))["pk"], json!([]));
}

#[test]
fn new_entries_fill_the_first_empty_slot() {
    let mut room = Room::default();
    for (ctx, s) in [("ctxA", "sA"), ("ctxB", "sB"), ("ctxC", "sC")] {
        poll(&mut room, &body(ctx, s, NOW, Some(json!([]))), NOW);
    }
    let leave = |room: &mut Room, ctx: &str, s: &str| {
        let mut v = body(ctx, s, NOW, None);
        v["dk"] = json!(format!("key-{ctx}"));
        let map = parse_body(v.to_string().as_bytes());
        room.leave(&leave_request(&map, NOW).expect("valid"), NOW)
    };
    assert!(leave(&mut room, "ctxB", "sB"));
    poll(&mut room, &body("ctxD", "sD", NOW, Some(json!([]))), NOW);
    let z = poll(&mut room, &body("ctxZ", "sZ", NOW, None), NOW);
    assert_eq!(sessions(&z), vec!["sA", "sD", "sC"]);
    assert!(leave(&mut room, "ctxC", "sC"));
    assert!(!leave(&mut room, "ctxC", "sC"), "already gone");
    poll(&mut room, &body("ctxE", "sE", NOW, Some(json!([]))), NOW);
    let z = poll(&mut room, &body("ctxZ", "sZ", NOW, None), NOW);
    assert_eq!(sessions(&z), vec!["sA", "sD", "sE"]);
}

#[test]
fn leave_needs_matching_context_session_and_key() {
    let mut room = Room::default();
    poll(&mut room, &body("ctxA", "sA", NOW, Some(json!([]))), NOW);
    for (ctx, s, dk) in [
        ("ctxA", "sA", "wrong"),
        ("ctxA", "sX", "key-ctxA"),
        ("ctxX", "sA", "key-ctxA"),
    ] {
        let mut v = body(ctx, s, NOW, None);
        v["dk"] = json!(dk);
        let map = parse_body(v.to_string().as_bytes());
        assert!(!room.leave(&leave_request(&map, NOW).expect("valid"), NOW));
    }
    assert!(!room.is_empty());
}

#[test]
fn expired_entries_are_hidden_and_vacuumed_and_expiry_is_capped_at_15_minutes() {
    let mut room = Room::default();
    let mut v = body("ctxA", "sA", NOW, Some(json!([])));
    v["x"] = json!(24 * 60 * 60 * 1000);
    poll(&mut room, &v, NOW);
    poll(&mut room, &body("ctxB", "sB", NOW, Some(json!([]))), NOW); // x = 120 s
    let viewer = |room: &mut Room, at: f64| {
        let map = parse_body(br#"{"r":"room1"}"#);
        let req = poll_request(&map, at).expect("valid");
        sessions(&room.poll(&req, at, ""))
    };
    assert_eq!(viewer(&mut room, NOW + 119_999.0), vec!["sA", "sB"]);
    assert_eq!(viewer(&mut room, NOW + 120_000.0), vec!["sA"]);
    assert_eq!(viewer(&mut room, NOW + MAX_ENTRY_TTL_MS - 1.0), vec!["sA"]);
    assert_eq!(
        viewer(&mut room, NOW + MAX_ENTRY_TTL_MS),
        Vec::<String>::new()
    );
    assert_eq!(room.vacuum(NOW + 120_000.0), 1);
    assert_eq!(room.vacuum(NOW + MAX_ENTRY_TTL_MS), 1);
    assert!(room.is_empty());
}

#[test]
fn an_expired_entry_is_replaced_with_a_new_delete_key() {
    let mut room = Room::default();
    poll(&mut room, &body("ctxA", "sA", NOW, Some(json!([]))), NOW);
    if let Some(entry) = room.slots[0].as_mut() {
        entry.delete_key = "old".into();
    }
    let later = NOW + 200_000.0;
    let out = poll(
        &mut room,
        &body("ctxA", "sA", later, Some(json!([]))),
        later,
    );
    assert!(out.joined);
    assert_eq!(
        answer(&out)["dk"],
        "key-ctxA",
        "not the expired entry's \"old\" key"
    );
}
