//! Payload validation cases: every 400 text in the worker's check order, the edge values the
//! worker accepts, wrong JSON types and non-JSON bodies (where the worker throws), and a
//! `null` package.

use serde_json::{json, Value};

use super::fixtures::Peer;
use super::improvements::Improvement;
use super::runner::{answer, post, rejected, worker_throws, Case, Exchange, Step};

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "validation_rejects_with_exact_texts",
            build: validation,
        },
        Case {
            name: "validation_accepts_worker_edge_values",
            build: accepted_edges,
        },
        Case {
            name: "wrong_json_types_and_non_json",
            build: wrong_types,
        },
        Case {
            name: "null_package_does_not_poison_room",
            build: null_package,
        },
    ]
}

/// A valid publish by peer A with one field replaced (`d.N` addresses item N of `d`), or
/// removed when `value` is `None`.
fn publish_with(room: &str, now: u64, field: &str, value: Option<Value>) -> Value {
    let mut body = Peer::new("A").publish(room, now, json!([]));
    let slot = match field.strip_prefix("d.") {
        Some(i) => &mut body["d"][i.parse::<usize>().unwrap_or(0)],
        None => &mut body[field],
    };
    match value {
        Some(v) => *slot = v,
        None => {
            if let Some(o) = body.as_object_mut() {
                o.remove(field);
            }
        }
    }
    body
}

fn validation(room: &str, now: u64) -> Vec<Step> {
    let long = "a".repeat(65);
    let cases: Vec<(&str, &str, Option<Value>, String)> = vec![
        ("r", "missing room", None, "Bad room idundefined".into()),
        (
            "r",
            "short room",
            Some(json!("abc")),
            "Bad room idabc".into(),
        ),
        (
            "r",
            "long room",
            Some(json!(long)),
            format!("Bad room id{long}"),
        ),
        (
            "r",
            "room charset",
            Some(json!("bad room!")),
            "Bad room idbad room!".into(),
        ),
        ("x", "missing x", None, "Bad expiration".into()),
        ("x", "zero x", Some(json!(0)), "Bad expiration".into()),
        (
            "x",
            "x over 24 h",
            Some(json!(86_400_001)),
            "Bad expiration".into(),
        ),
        (
            "x",
            "string x",
            Some(json!("1000")),
            "Bad expiration".into(),
        ),
        ("t", "missing t", None, "Bad timestamp".into()),
        (
            "t",
            "t 11 min old",
            Some(json!(now - 660_000)),
            "Bad timestamp".into(),
        ),
        (
            "t",
            "t 11 min ahead",
            Some(json!(now + 660_000)),
            "Bad timestamp".into(),
        ),
        (
            "t",
            "string t",
            Some(json!(now.to_string())),
            "Bad timestamp".into(),
        ),
        ("k", "missing k", None, "Bad context id".into()),
        ("k", "long k", Some(json!(long)), "Bad context id".into()),
        ("k", "empty k", Some(json!("")), "Bad context id".into()),
        (
            "d",
            "d of 5",
            Some(json!(["s", "c", false, "x", 1])),
            "".into(),
        ),
        (
            "d.0",
            "empty session",
            Some(json!("")),
            "Bad session id".into(),
        ),
        (
            "d.0",
            "long session",
            Some(json!(long)),
            "Bad session id".into(),
        ),
        (
            "d.1",
            "empty client",
            Some(json!("")),
            "Bad client id".into(),
        ),
        (
            "d.1",
            "long client",
            Some(json!(long)),
            "Bad client id".into(),
        ),
        (
            "d.2",
            "string symmetric",
            Some(json!("true")),
            "Bad is symmetric".into(),
        ),
        (
            "d.2",
            "null symmetric",
            Some(json!(null)),
            "Bad is symmetric".into(),
        ),
        (
            "d.3",
            "short dtls",
            Some(json!("A".repeat(43))),
            "Bad dtls".into(),
        ),
        ("d.3", "empty dtls", Some(json!("")), "Bad dtls".into()),
        (
            "d.4",
            "zero joined at",
            Some(json!(0)),
            "Bad joined at timestamp".into(),
        ),
        (
            "d.4",
            "string joined at",
            Some(json!("1")),
            "Bad joined at timestamp".into(),
        ),
        (
            "d.5",
            "not an IP",
            Some(json!(["not-an-ip"])),
            "Bad reflexive IPs".into(),
        ),
        (
            "d.5",
            "IP list as string",
            Some(json!("1.2.3.4")),
            "Bad reflexive IPs".into(),
        ),
        (
            "d.5",
            "null IPs",
            Some(json!(null)),
            "Bad reflexive IPs".into(),
        ),
        (
            "d.3",
            "bad base64",
            Some(json!(format!("{}=", "!".repeat(43)))),
            "Bad base64 encoding".into(),
        ),
    ];
    let mut steps: Vec<Step> = cases
        .into_iter()
        .map(|(field, note, value, text)| {
            let (body, text) = if field == "d" {
                // d of the wrong length, both ways.
                (
                    publish_with(room, now, "d", value),
                    "Bad data length".to_string(),
                )
            } else {
                (publish_with(room, now, field, value), text)
            };
            post(body).note(note).expect(rejected(400, &text)).step()
        })
        .collect();
    let mut seven = Peer::new("A").d();
    if let Some(items) = seven.as_array_mut() {
        items.push(json!(1));
    }
    steps.push(
        post(publish_with(room, now, "d", Some(seven)))
            .note("d of 7")
            .expect(rejected(400, "Bad data length"))
            .step(),
    );
    // Check order: the room id before anything, then x before t before k before d.
    let mut order = publish_with(room, now, "x", None);
    order["t"] = json!("bad");
    order["r"] = json!("x");
    steps.push(
        post(order.clone())
            .note("room first")
            .expect(rejected(400, "Bad room idx"))
            .step(),
    );
    order["r"] = json!(room);
    steps.push(
        post(order.clone())
            .note("x before t")
            .expect(rejected(400, "Bad expiration"))
            .step(),
    );
    order["x"] = json!(1000);
    order["k"] = json!("");
    steps.push(
        post(order.clone())
            .note("t before k")
            .expect(rejected(400, "Bad timestamp"))
            .step(),
    );
    order["t"] = json!(now);
    order["d"][2] = json!(1);
    steps.push(
        post(order)
            .note("k before d")
            .expect(rejected(400, "Bad context id"))
            .step(),
    );
    // Nothing was written by any of the rejected requests.
    steps.push(
        post(json!({"r": room}))
            .note("room still empty")
            .expect(answer(json!({"ps": [], "pk": []})))
            .step(),
    );
    steps
}

/// Values the worker's checks let through; a conforming server must accept them too.
fn accepted_edges(room: &str, now: u64) -> Vec<Step> {
    let accept = |note: &str, field: &str, value: Value| -> Step {
        post(publish_with(room, now, field, Some(value)))
            .note(note)
            .expect(answer(json!({"ps": "$any", "pk": [], "dk": "$any"})))
            .step()
    };
    vec![
        accept("x of exactly 24 h", "x", json!(86_400_000)),
        accept("t 9 min old", "t", json!(now - 540_000)),
        accept("64-char context", "k", json!("k".repeat(64))),
        accept("no reflexive IPs", "d.5", json!([])),
        accept(
            "IPv6 reflexive IP",
            "d.5",
            json!(["2001:db8::1", "198.51.100.7"]),
        ),
        accept("symmetric true", "d.2", json!(true)),
        accept("64-char session", "d.0", json!("s".repeat(64))),
        post(json!({"r": room, "k": "reader"}))
            .note("read without d needs no other field")
            .expect(answer(json!({"ps": "$any", "pk": []})))
            .step(),
        post(json!({"r": "a_b-"}))
            .note("4-char room with _ and -")
            .expect(answer(json!({"ps": "$any", "pk": []})))
            .step(),
    ]
}

/// Inputs on which worker.js throws (500) or wrongly accepts a type; we answer 400 with the
/// text of the check that should have caught it (documented improvements).
fn wrong_types(room: &str, now: u64) -> Vec<Step> {
    let crash = |note: &str, body: Exchange, exception: &str, ours: &str| -> Step {
        body.note(note)
            .expect(worker_throws(exception))
            .ours(Improvement::BadRequestInsteadOfCrash, rejected(400, ours))
            .step()
    };
    let leave = |body: Exchange| body.header("x-worker-method", "DELETE");
    let stricter = |note: &str, field: &str, value: Value, ours: &str| -> Step {
        post(publish_with(room, now, field, Some(value)))
            .note(note)
            .expect(answer(json!({"ps": "$any", "pk": [], "dk": "$any"})))
            .ours(Improvement::StricterTypes, rejected(400, ours))
            .step()
    };
    let no_room = "Bad room idundefined";
    vec![
        crash(
            "numeric room id",
            post(json!({"r": 1234})),
            "TypeError",
            "Bad room id1234",
        ),
        crash(
            "IP not a string",
            post(publish_with(room, now, "d.5", Some(json!([5])))),
            "TypeError",
            "Bad reflexive IPs",
        ),
        crash(
            "IPs an object",
            post(publish_with(room, now, "d.5", Some(json!({"a": 1})))),
            "TypeError",
            "Bad reflexive IPs",
        ),
        crash(
            "body not JSON",
            post(json!(null)).raw(b"nope"),
            "SyntaxError",
            no_room,
        ),
        crash(
            "empty body",
            post(json!(null)).raw(b""),
            "SyntaxError",
            no_room,
        ),
        crash(
            "truncated JSON",
            post(json!(null)).raw(br#"{"r": "abcd""#),
            "SyntaxError",
            no_room,
        ),
        crash("JSON null body", post(json!(null)), "TypeError", no_room),
        crash(
            "leave: not JSON",
            leave(post(json!(null)).raw(b"{")),
            "SyntaxError",
            "Missing delete key",
        ),
        post(json!([1, 2]))
            .note("JSON array body has no room id")
            .expect(rejected(400, no_room))
            .step(),
        stricter("numeric context id", "k", json!(12345), "Bad context id"),
        stricter("numeric session id", "d.0", json!(12345), "Bad session id"),
        stricter("numeric client id", "d.1", json!(12345), "Bad client id"),
    ]
}

/// A `null` package poisons a worker room: every other session's poll then throws.
fn null_package(room: &str, now: u64) -> Vec<Step> {
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    vec![
        post(a.publish(room, now, json!([null])))
            .note("A publishes a null package")
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(b.poll(room, now))
            .note("B polls the room")
            .expect(worker_throws("TypeError"))
            .ours(
                Improvement::PackagesMustBeArrays,
                answer(json!({"ps": [a.seen(now)], "pk": []})),
            )
            .step(),
    ]
}
