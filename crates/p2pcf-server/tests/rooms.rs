//! Joining, seeing each other, packages, delete keys and leaving, over HTTP and both stores.

mod common;

use common::*;
use p2pcf_server::ServerConfig;
use serde_json::json;

async fn peers_see_each_other_and_get_their_packages(kind: Kind) {
    let s = server(kind, ServerConfig::default());
    let now = now_ms();
    let a = send(
        &s.app,
        post(&publish("room1", "ctxA", "sA", now, json!([]))),
    )
    .await;
    assert_eq!(a.status, 200);
    let dk_a = a.json()["dk"].as_str().expect("dk").to_owned();
    assert_eq!(dk_a.len(), 24);
    assert!(dk_a.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(a.json()["ps"], json!([]));

    let pkg = json!(["sA", "sB", "uf", "pw", DTLS, "ua", "pa", 1, ["cand"]]);
    let b = send(
        &s.app,
        post(&publish(
            "room1",
            "ctxB",
            "sB",
            now,
            json!([pkg.clone(), ["sX", 1]]),
        )),
    )
    .await;
    assert_eq!(b.sessions(), vec!["sA"]);
    assert_eq!(b.json()["ps"][0][6], json!(now as u64));
    assert_eq!(b.json()["ps"][0].as_array().map(Vec::len), Some(7));

    let a2 = send(&s.app, post(&peer("room1", "ctxA", "sA", now))).await;
    assert_eq!(a2.sessions(), vec!["sB"]);
    assert_eq!(a2.json()["pk"], json!([pkg]));
    assert!(a2.json().get("dk").is_none());

    // Same t: the same delete key, nothing rewritten.
    let again = send(
        &s.app,
        post(&publish("room1", "ctxA", "sA", now, json!([["sB", "new"]]))),
    )
    .await;
    assert_eq!(again.json()["dk"], json!(dk_a));
    assert_eq!(
        send(&s.app, post(&peer("room1", "ctxB", "sB", now)))
            .await
            .json()["pk"],
        json!([])
    );
    // Newer t: rewritten, same delete key.
    let newer = send(
        &s.app,
        post(&publish(
            "room1",
            "ctxA",
            "sA",
            now + 1.0,
            json!([["sB", "new"]]),
        )),
    )
    .await;
    assert_eq!(newer.json()["dk"], json!(dk_a));
    assert_eq!(
        send(&s.app, post(&peer("room1", "ctxB", "sB", now)))
            .await
            .json()["pk"],
        json!([["sB", "new"]])
    );

    // Rooms are separate.
    assert_eq!(
        send(&s.app, post(&json!({"r": "room2"}))).await.json()["ps"],
        json!([])
    );

    // Leave with the key: gone for the others.
    let mut bye = peer("room1", "ctxA", "sA", now);
    bye["dk"] = json!(dk_a);
    let left = send(&s.app, leave(&bye)).await;
    assert_eq!((left.status.as_u16(), left.text.as_str()), (200, "{}"));
    assert_eq!(
        send(&s.app, post(&peer("room1", "ctxB", "sB", now)))
            .await
            .sessions(),
        Vec::<String>::new()
    );
    let again = send(&s.app, leave(&bye)).await;
    assert_eq!(
        (again.status.as_u16(), again.text.as_str()),
        (404, "No delete key")
    );
}
both_stores!(join_and_leave, peers_see_each_other_and_get_their_packages);

async fn ps_keeps_slot_order(kind: Kind) {
    let s = server(kind, ServerConfig::default());
    let now = now_ms();
    let mut keys = Vec::new();
    for i in 0..4 {
        let a = send(
            &s.app,
            post(&publish(
                "room1",
                &format!("ctx{i}"),
                &format!("s{i}"),
                now,
                json!([]),
            )),
        )
        .await;
        keys.push(a.json()["dk"].clone());
    }
    let mut bye = peer("room1", "ctx1", "s1", now);
    bye["dk"] = keys[1].clone();
    assert_eq!(send(&s.app, leave(&bye)).await.status, 200);
    send(
        &s.app,
        post(&publish("room1", "ctx9", "s9", now, json!([]))),
    )
    .await;
    let view = send(&s.app, post(&json!({"r": "room1"}))).await;
    assert_eq!(view.sessions(), vec!["s0", "s9", "s2", "s3"]);
}
both_stores!(slot_order, ps_keeps_slot_order);

async fn numbers_are_echoed_as_javascript_writes_them(kind: Kind) {
    let s = server(kind, ServerConfig::default());
    let now = now_ms().floor();
    let body = format!(
        r#"{{"r":"room1","k":"ctxA","t":{now}.0,"x":1.2e5,"p":[["sB",1.0,1e21,0.0000001,"\u0001"]],
            "d":["sA","cA",true,"{DTLS}",1.50e1,["::1"]]}}"#
    );
    assert_eq!(send(&s.app, post_raw(body)).await.status, 200);
    let b = send(&s.app, post(&peer("room1", "ctxB", "sB", now))).await;
    assert_eq!(
        b.text,
        format!(
            r#"{{"ps":[["sA","cA",true,"{DTLS}",15,["::1"],{now}]],"pk":[["sB",1,1e+21,1e-7,"\u0001"]]}}"#
        )
    );
}
both_stores!(js_numbers, numbers_are_echoed_as_javascript_writes_them);
