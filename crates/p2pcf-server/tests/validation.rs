//! Every validation of worker.js, in its order, with its status and exact text.

mod common;

use common::*;
use p2pcf_server::ServerConfig;
use serde_json::{json, Value};

async fn rejected(kind: Kind, body: &Value) -> (u16, String) {
    let s = server(kind, ServerConfig::default());
    let a = send(&s.app, post(body)).await;
    (a.status.as_u16(), a.text)
}

fn valid() -> Value {
    publish("room1", "ctxA", "sA", now_ms(), json!([]))
}

fn with(path: &[&str], value: Value) -> Value {
    let mut v = valid();
    match path {
        [key] => v[*key] = value,
        ["d", i] => v["d"][i.parse::<usize>().expect("index")] = value,
        _ => unreachable!(),
    }
    v
}

fn without(key: &str) -> Value {
    let mut v = valid();
    v.as_object_mut().expect("object").remove(key);
    v
}

async fn room_id_errors_append_the_js_string_of_r(kind: Kind) {
    let cases: Vec<(Value, &str)> = vec![
        (without("r"), "Bad room idundefined"),
        (with(&["r"], json!(null)), "Bad room idnull"),
        (with(&["r"], json!("abc")), "Bad room idabc"),
        (
            with(&["r"], json!("a".repeat(65))),
            &*Box::leak(format!("Bad room id{}", "a".repeat(65)).into_boxed_str()),
        ),
        (with(&["r"], json!("abc!")), "Bad room idabc!"),
        (with(&["r"], json!("abcd\n")), "Bad room idabcd\n"),
        (with(&["r"], json!("ééééé")), "Bad room idééééé"),
        (with(&["r"], json!(12345)), "Bad room id12345"),
        (with(&["r"], json!(1.5)), "Bad room id1.5"),
        (with(&["r"], json!(0)), "Bad room id0"),
        (with(&["r"], json!(true)), "Bad room idtrue"),
        (with(&["r"], json!(false)), "Bad room idfalse"),
        (with(&["r"], json!({"a": 1})), "Bad room id[object Object]"),
        (with(&["r"], json!(["ab", null, 3])), "Bad room idab,,3"),
        (
            with(&["r"], json!(["a", "b", "c", "d"])),
            "Bad room ida,b,c,d",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            rejected(kind, &body).await,
            (400, want.to_owned()),
            "{body}"
        );
    }
}
both_stores!(room_id, room_id_errors_append_the_js_string_of_r);

async fn peer_data_errors_come_in_worker_order(kind: Kind) {
    let day = 24 * 60 * 60 * 1000;
    let now = now_ms();
    let cases: Vec<(Value, &str)> = vec![
        (without("x"), "Bad expiration"),
        (with(&["x"], json!(0)), "Bad expiration"),
        (with(&["x"], json!("120000")), "Bad expiration"),
        (with(&["x"], json!(day + 1)), "Bad expiration"),
        (without("t"), "Bad timestamp"),
        (with(&["t"], json!(now - 11.0 * 60_000.0)), "Bad timestamp"),
        (with(&["t"], json!(now + 11.0 * 60_000.0)), "Bad timestamp"),
        (with(&["t"], json!(now.to_string())), "Bad timestamp"),
        (without("k"), "Bad context id"),
        (with(&["k"], json!("")), "Bad context id"),
        (with(&["k"], json!("k".repeat(65))), "Bad context id"),
        (with(&["k"], json!(42)), "Bad context id"),
        (with(&["k"], json!(["a"])), "Bad context id"),
        (with(&["d"], json!([1, 2, 3])), "Bad data length"),
        (with(&["d"], json!({"0": "a"})), "Bad data length"),
        (with(&["d"], json!("abc")), "Bad data length"),
        (with(&["d"], json!("abcdef")), "Bad is symmetric"),
        (with(&["d"], json!(5)), "Bad data length"),
        (with(&["d", "0"], json!("")), "Bad session id"),
        (with(&["d", "0"], json!("s".repeat(65))), "Bad session id"),
        (with(&["d", "0"], json!(7)), "Bad session id"),
        (with(&["d", "1"], json!(null)), "Bad client id"),
        (with(&["d", "1"], json!({})), "Bad client id"),
        (with(&["d", "2"], json!("false")), "Bad is symmetric"),
        (with(&["d", "2"], json!(0)), "Bad is symmetric"),
        (with(&["d", "3"], json!("AAAA")), "Bad dtls"),
        (with(&["d", "3"], json!(44)), "Bad dtls"),
        (with(&["d", "4"], json!(0)), "Bad joined at timestamp"),
        (with(&["d", "4"], json!("1")), "Bad joined at timestamp"),
        (with(&["d", "5"], json!("1.2.3.4")), "Bad reflexive IPs"),
        (with(&["d", "5"], json!(null)), "Bad reflexive IPs"),
        (
            with(&["d", "5"], json!({"a": "1.2.3.4"})),
            "Bad reflexive IPs",
        ),
        (
            with(&["d", "5"], json!(["1.2.3.4", "nope"])),
            "Bad reflexive IPs",
        ),
        (with(&["d", "5"], json!([1])), "Bad reflexive IPs"),
        (with(&["d", "5"], json!([""])), "Bad reflexive IPs"),
        (with(&["d", "5"], json!([" 1.2.3.4"])), "Bad reflexive IPs"),
        (
            with(&["d", "3"], json!("A".repeat(43) + "!")),
            "Bad base64 encoding",
        ),
        (
            with(&["d", "3"], json!(vec!["A"; 44])),
            "Bad base64 encoding",
        ),
        (
            with(&["d", "3"], json!("A".repeat(41) + "===")),
            "Bad base64 encoding",
        ),
        // Order: the earliest failing check wins.
        (json!({"r": "x", "d": 1}), "Bad room idx"),
        (
            json!({"r": "room1", "d": [], "x": 0, "t": 0}),
            "Bad expiration",
        ),
        (
            json!({"r": "room1", "d": [], "x": 1, "t": now}),
            "Bad context id",
        ),
        (with(&["d", "5"], json!("bad")), "Bad reflexive IPs"),
    ];
    for (body, want) in cases {
        assert_eq!(
            rejected(kind, &body).await,
            (400, want.to_owned()),
            "{body}"
        );
    }
}
both_stores!(peer_data, peer_data_errors_come_in_worker_order);

async fn accepted_oddities_of_the_worker_still_pass(kind: Kind) {
    let s = server(kind, ServerConfig::default());
    let cases = [
        with(&["d", "5"], json!([])),
        with(&["d", "5"], json!(["junk fe80::1%eth0 junk"])), // IPv6 regex is unanchored
        with(&["d", "5"], json!(["999.999.999.999"])),
        with(&["d", "3"], json!(format!(" {} ", "A".repeat(42)))), // forgiving base64
        with(&["x"], json!(-5)),
        with(&["d", "4"], json!(-1.5)),
        with(&["d", "2"], json!(true)),
        with(&["p"], json!(5)),
    ];
    for body in cases {
        let a = send(&s.app, post(&body)).await;
        assert_eq!(a.status, 200, "{body}: {}", a.text);
    }
    // A falsy `d` is no `d`: a plain poll.
    for d in [json!(null), json!(0), json!(""), json!(false)] {
        let a = send(&s.app, post(&json!({"r": "room1", "d": d, "x": "junk"}))).await;
        assert_eq!(
            (a.status.as_u16(), a.json()["pk"].clone()),
            (200, json!([]))
        );
    }
}
both_stores!(accepted, accepted_oddities_of_the_worker_still_pass);

#[tokio::test]
async fn leave_checks_delete_key_before_anything_else() {
    let s = server(Kind::Memory, ServerConfig::default());
    for (body, status, want) in [
        (json!({}), 400, "Missing delete key"),
        (json!({"dk": ""}), 400, "Missing delete key"),
        (json!({"dk": "x"}), 400, "Bad room idundefined"),
        (
            json!({"dk": "x", "r": "room1", "d": [1]}),
            400,
            "Bad expiration",
        ),
        (json!({"dk": "x", "r": "room1"}), 404, "No delete key"),
        (json!({"dk": 5, "r": "room1"}), 404, "No delete key"),
    ] {
        let a = send(&s.app, leave(&body)).await;
        assert_eq!(
            (a.status.as_u16(), a.text.as_str()),
            (status, want),
            "{body}"
        );
        assert_eq!(a.header("vary"), Some("Origin"));
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    }
}

#[tokio::test]
async fn body_that_is_not_a_json_object_has_no_fields() {
    let s = server(Kind::Memory, ServerConfig::default());
    for raw in [
        "",
        "xx",
        "null",
        "5",
        "\"abcd\"",
        "[]",
        "{\"r\":\"room1\"} trailing",
    ] {
        let a = send(&s.app, post_raw(raw)).await;
        assert_eq!(
            (a.status.as_u16(), a.text.as_str()),
            (400, "Bad room idundefined"),
            "{raw:?}"
        );
    }
    let a = send(&s.app, post_raw("\u{feff}{\"r\":\"room1\"}")).await;
    assert_eq!(
        (a.status.as_u16(), a.text.as_str()),
        (200, r#"{"ps":[],"pk":[]}"#)
    );
}
