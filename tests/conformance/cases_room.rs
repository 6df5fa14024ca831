//! Room behaviour cases: joins, visibility, package routing, delete keys, rewrites, slot reuse,
//! leaving and expiry. Each case runs in a fresh room; `now` is the case's start time in ms.

use reqwest::Method;
use serde_json::{json, Value};

use super::fixtures::Peer;
use super::improvements::Improvement;
use super::runner::{answer, post, rejected, sleep_ms, worker_throws, Case, Step};

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "joiners_see_others_but_not_themselves",
            build: joiners_see_others,
        },
        Case {
            name: "packages_reach_only_their_target_session",
            build: package_routing,
        },
        Case {
            name: "delete_key_is_kept_and_only_given_for_d_plus_p",
            build: delete_key_rules,
        },
        Case {
            name: "unchanged_timestamp_does_not_rewrite_entry",
            build: unchanged_t,
        },
        Case {
            name: "freed_slots_are_reused_in_order",
            build: slot_reuse,
        },
        Case {
            name: "leave_by_header_and_by_delete_method",
            build: leave_variants,
        },
        Case {
            name: "leave_errors_have_exact_texts",
            build: leave_errors,
        },
        Case {
            name: "expired_entry_is_served_until_vacuum",
            build: expiry,
        },
    ]
}

fn empty() -> Value {
    json!({"ps": [], "pk": []})
}

/// The request the JS client sends to leave: POST + `X-Worker-Method: DELETE`.
fn leave(peer: &Peer, room: &str, t: u64, dk: &str) -> super::runner::Exchange {
    post(peer.leave(room, t, dk)).header("x-worker-method", "DELETE")
}

/// A read-only poll without `k`: lists every entry, in slot order.
fn observe(room: &str, expect_ps: Value) -> Step {
    post(json!({"r": room}))
        .note("observer")
        .expect(answer(json!({"ps": expect_ps, "pk": []})))
        .step()
}

fn joiners_see_others(room: &str, now: u64) -> Vec<Step> {
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    vec![
        post(a.read(room))
            .note("first poll is a read")
            .expect(answer(empty()))
            .step(),
        post(a.publish(room, now, json!([])))
            .note("A publishes")
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(a.poll(room, now))
            .note("A does not see itself")
            .expect(answer(empty()))
            .step(),
        post(b.publish(room, now + 1, json!([])))
            .note("B publishes and sees A")
            .expect(answer(
                json!({"ps": [a.seen(now)], "pk": [], "dk": "$dk:B"}),
            ))
            .step(),
        post(a.poll(room, now))
            .note("A sees B")
            .expect(answer(json!({"ps": [b.seen(now + 1)], "pk": []})))
            .step(),
        post(b.read(room))
            .note("B read-only sees A")
            .expect(answer(json!({"ps": [a.seen(now)], "pk": []})))
            .step(),
        observe(room, json!([a.seen(now), b.seen(now + 1)])),
    ]
}

fn package_routing(room: &str, now: u64) -> Vec<Step> {
    let (a, b, c, d) = (
        Peer::new("A"),
        Peer::new("B"),
        Peer::new("C"),
        Peer::new("D"),
    );
    let (a_to_b, a_to_c) = (a.package_for(&b, now), a.package_for(&c, now));
    let b_to_a = b.package_for(&a, now + 5);
    vec![
        post(a.publish(room, now, json!([a_to_b, a_to_c])))
            .note("A publishes packages for B and C")
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(b.publish(room, now, json!([])))
            .note("B gets only its package")
            .expect(answer(
                json!({"ps": [a.seen(now)], "pk": [a_to_b], "dk": "$dk:B"}),
            ))
            .step(),
        post(c.poll(room, now))
            .note("C (not published) gets its package")
            .expect(answer(
                json!({"ps": [a.seen(now), b.seen(now)], "pk": [a_to_c]}),
            ))
            .step(),
        post(d.poll(room, now))
            .note("D gets nothing")
            .expect(answer(json!({"ps": [a.seen(now), b.seen(now)], "pk": []})))
            .step(),
        post(b.read(room))
            .note("no packages without d")
            .expect(answer(json!({"ps": [a.seen(now)], "pk": []})))
            .step(),
        post(b.publish(room, now + 5, json!([b_to_a])))
            .note("B answers A")
            .expect(answer(
                json!({"ps": [a.seen(now)], "pk": [a_to_b], "dk": "$dk:B"}),
            ))
            .step(),
        post(a.poll(room, now))
            .note("A gets B's package")
            .expect(answer(json!({"ps": [b.seen(now + 5)], "pk": [b_to_a]})))
            .step(),
    ]
}

fn delete_key_rules(room: &str, now: u64) -> Vec<Step> {
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    let mut p_without_d = a.publish(room, now + 2000, json!([]));
    p_without_d.as_object_mut().map(|o| o.remove("d"));
    vec![
        post(a.publish(room, now, json!([])))
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(a.publish(room, now + 1000, json!([])))
            .note("re-publish with a new t keeps the key")
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(p_without_d)
            .note("p without d: a read, no key")
            .expect(answer(empty()))
            .step(),
        post(a.poll(room, now + 1000))
            .note("d without p: no key")
            .expect(answer(empty()))
            .step(),
        post(a.read(room))
            .note("read: no key")
            .expect(answer(empty()))
            .step(),
        post(b.publish(room, now, json!([])))
            .note("another context gets its own key")
            .expect(answer(
                json!({"ps": [a.seen(now + 1000)], "pk": [], "dk": "$dk:B"}),
            ))
            .step(),
        post(a.publish(room, now + 1000, json!([])))
            .note("unchanged t still returns the key")
            .expect(answer(
                json!({"ps": [b.seen(now)], "pk": [], "dk": "$dk:A"}),
            ))
            .step(),
    ]
}

fn unchanged_t(room: &str, now: u64) -> Vec<Step> {
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    let mut a2 = a.clone();
    a2.client = "client-A-renamed".into();
    vec![
        post(a.publish(room, now, json!([])))
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(b.publish(room, now, json!([])))
            .expect(answer(
                json!({"ps": [a.seen(now)], "pk": [], "dk": "$dk:B"}),
            ))
            .step(),
        post(a2.publish(room, now, json!([b.package_for(&a, now)])))
            .note("same t, new data: not written")
            .expect(answer(
                json!({"ps": [b.seen(now)], "pk": [], "dk": "$dk:A"}),
            ))
            .step(),
        post(b.poll(room, now))
            .note("B still sees the old data and no package")
            .expect(answer(json!({"ps": [a.seen(now)], "pk": []})))
            .step(),
        post(a2.publish(room, now + 1, json!([a.package_for(&b, now)])))
            .note("new t: written")
            .expect(answer(
                json!({"ps": [b.seen(now)], "pk": [], "dk": "$dk:A"}),
            ))
            .step(),
        post(b.poll(room, now))
            .note("B sees the new data")
            .expect(answer(
                json!({"ps": [a2.seen(now + 1)], "pk": [a.package_for(&b, now)]}),
            ))
            .step(),
    ]
}

fn slot_reuse(room: &str, now: u64) -> Vec<Step> {
    let [a, b, c, d, e, f] = ["A", "B", "C", "D", "E", "F"].map(Peer::new);
    let publish = |p: &Peer, dk: &str| {
        post(p.publish(room, now, json!([])))
            .note(&format!("{} publishes", p.client))
            .expect(answer(
                json!({"ps": "$any", "pk": [], "dk": format!("$dk:{dk}")}),
            ))
            .step()
    };
    vec![
        publish(&a, "A"),
        publish(&b, "B"),
        publish(&c, "C"),
        leave(&b, room, now, "$dk:B")
            .note("B leaves (slot 1)")
            .expect(answer(json!({})))
            .step(),
        observe(room, json!([a.seen(now), c.seen(now)])),
        publish(&d, "D"),
        observe(room, json!([a.seen(now), d.seen(now), c.seen(now)])),
        leave(&c, room, now, "$dk:C")
            .note("C leaves (max index)")
            .expect(answer(json!({})))
            .step(),
        publish(&e, "E"),
        observe(room, json!([a.seen(now), d.seen(now), e.seen(now)])),
        leave(&a, room, now, "$dk:A")
            .note("A leaves (slot 0)")
            .expect(answer(json!({})))
            .step(),
        publish(&f, "F"),
        observe(room, json!([f.seen(now), d.seen(now), e.seen(now)])),
    ]
}

fn leave_variants(room: &str, now: u64) -> Vec<Step> {
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    vec![
        post(a.publish(room, now, json!([])))
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(b.publish(room, now, json!([])))
            .expect(answer(
                json!({"ps": [a.seen(now)], "pk": [], "dk": "$dk:B"}),
            ))
            .step(),
        leave(&a, room, now, "$dk:A")
            .note("POST + X-Worker-Method: DELETE")
            .expect(answer(json!({})))
            .step(),
        observe(room, json!([b.seen(now)])),
        post(b.leave(room, now, "$dk:B"))
            .method(Method::DELETE)
            .note("DELETE method")
            .expect(answer(json!({})))
            .step(),
        observe(room, json!([])),
        leave(&a, room, now, "$dk:A")
            .note("leaving twice")
            .expect(rejected(404, "No delete key"))
            .step(),
        post(a.publish(room, now + 1, json!([])))
            .note("a returning peer gets a new key")
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A2"})))
            .step(),
    ]
}

fn leave_errors(room: &str, now: u64) -> Vec<Step> {
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    let mut no_dk = a.leave(room, now, "x");
    no_dk.as_object_mut().map(|o| o.remove("dk"));
    let mut no_dk_bad_room = no_dk.clone();
    no_dk_bad_room["r"] = json!("x");
    let mut bad_room = a.leave(room, now, "$dk:A");
    bad_room["r"] = json!("no");
    let mut other_k = a.leave(room, now, "$dk:A");
    other_k["k"] = json!(b.context);
    let mut other_session = a.leave(room, now, "$dk:A");
    other_session["d"][0] = json!(b.session);
    let mut bad_x = a.leave(room, now, "$dk:A");
    bad_x.as_object_mut().map(|o| o.remove("x"));
    let no_d = json!({"r": room, "k": a.context, "dk": "$dk:A"});
    let x_header = |body: Value| post(body).header("x-worker-method", "DELETE");
    vec![
        post(a.publish(room, now, json!([])))
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        x_header(no_dk)
            .note("no dk")
            .expect(rejected(400, "Missing delete key"))
            .step(),
        x_header(no_dk_bad_room)
            .note("dk is checked before the room id")
            .expect(rejected(400, "Missing delete key"))
            .step(),
        x_header(bad_room)
            .note("bad room")
            .expect(rejected(400, "Bad room idno"))
            .step(),
        x_header(bad_x)
            .note("leave validates d's companions")
            .expect(rejected(400, "Bad expiration"))
            .step(),
        leave(&a, room, now, "wrong-key")
            .note("wrong dk")
            .expect(rejected(404, "No delete key"))
            .step(),
        x_header(other_k)
            .note("other context id")
            .expect(rejected(404, "No delete key"))
            .step(),
        x_header(other_session)
            .note("other session id")
            .expect(rejected(404, "No delete key"))
            .step(),
        observe(room, json!([a.seen(now)])),
        // Last, as the two implementations may now differ in state.
        x_header(no_d)
            .note("dk without d while an entry exists")
            .expect(worker_throws("TypeError"))
            .ours(
                Improvement::BadRequestInsteadOfCrash,
                rejected(404, "No delete key"),
            )
            .step(),
    ]
}

fn expiry(room: &str, now: u64) -> Vec<Step> {
    let (a, b) = (Peer::new("A"), Peer::new("B"));
    let mut short = a.publish(room, now, json!([]));
    short["x"] = json!(1000);
    vec![
        // The first poll in a room schedules the worker's vacuum 0–10 s later; after it ran,
        // the next one is ≥ 30 s away, so what follows is deterministic on the worker.
        observe(room, json!([])),
        sleep_ms(10_500),
        post(short)
            .note("A publishes with x = 1000 ms")
            .expect(answer(json!({"ps": [], "pk": [], "dk": "$dk:A"})))
            .step(),
        post(b.publish(room, now, json!([])))
            .expect(answer(
                json!({"ps": [a.seen(now)], "pk": [], "dk": "$dk:B"}),
            ))
            .step(),
        sleep_ms(1500),
        post(b.poll(room, now))
            .note("after A's expiry")
            .expect(answer(json!({"ps": [a.seen(now)], "pk": []})))
            .ours(Improvement::ExpiredEntriesHidden, answer(empty()))
            .step(),
    ]
}
