//! Our long-poll extension: `X-P2PCF-Version` on answers; `X-P2PCF-Wait` + `X-P2PCF-Since` hold a
//! poll until the room changes.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::*;
use p2pcf_server::ServerConfig;
use serde_json::{json, Value};

fn watch(room: &str, since: u64, wait_ms: u64) -> Request<Body> {
    Request::post("/")
        .header("content-type", "application/json")
        .header("x-p2pcf-wait", wait_ms.to_string())
        .header("x-p2pcf-since", since.to_string())
        .body(Body::from(json!({ "r": room, "k": "watcher" }).to_string()))
        .expect("request")
}

fn version(answer: &Answer) -> u64 {
    answer
        .header("x-p2pcf-version")
        .and_then(|v| v.parse().ok())
        .expect("version header")
}

#[tokio::test]
async fn a_held_poll_returns_when_someone_joins() {
    let s = server(Kind::Memory, ServerConfig::default());
    let first = send(&s.app, post(&json!({ "r": "room1", "k": "watcher" }))).await;
    let v0 = version(&first);

    let app = s.app.clone();
    let started = Instant::now();
    let held = tokio::spawn(async move { send(&app, watch("room1", v0, 10_000)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished(), "held while nothing changes");

    let now = now_ms();
    let join = send(
        &s.app,
        post(&publish("room1", "ctxA", "sA", now, json!([]))),
    )
    .await;
    assert_eq!(join.status, 200);
    let answer = held.await.expect("task");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "answered {took:?} after the join"
    );
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.sessions(),
        vec!["sA"],
        "the answer already shows the new peer"
    );
    assert!(version(&answer) > v0);
}

#[tokio::test]
async fn a_held_poll_times_out_with_an_ordinary_answer() {
    let s = server(Kind::Memory, ServerConfig::default());
    let v0 = version(&send(&s.app, post(&json!({ "r": "room2", "k": "w" }))).await);
    let started = Instant::now();
    let answer = send(&s.app, watch("room2", v0, 300)).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["ps"], Value::Array(vec![]));
    assert_eq!(version(&answer), v0);
}

#[tokio::test]
async fn a_stale_version_is_answered_at_once_and_leaves_change_the_version() {
    let s = server(Kind::Memory, ServerConfig::default());
    let now = now_ms();
    let joined = send(
        &s.app,
        post(&publish("room3", "ctxA", "sA", now, json!([]))),
    )
    .await;
    let dk = joined.json()["dk"].as_str().expect("dk").to_owned();
    let v1 = version(&send(&s.app, post(&json!({ "r": "room3", "k": "w" }))).await);

    let started = Instant::now();
    let stale = send(&s.app, watch("room3", v1 - 1, 10_000)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(version(&stale), v1);

    let mut body = peer("room3", "ctxA", "sA", now);
    body["dk"] = json!(dk);
    assert_eq!(send(&s.app, leave(&body)).await.status, 200);
    let after = send(&s.app, post(&json!({ "r": "room3", "k": "w" }))).await;
    assert!(version(&after) > v1, "a leave is a change");
    // An unchanged heartbeat poll (same t, no p) is not.
    let again = send(&s.app, post(&peer("room3", "ctxB", "sB", now))).await;
    let again2 = send(&s.app, post(&peer("room3", "ctxB", "sB", now))).await;
    assert_eq!(version(&again), version(&again2));
}

#[tokio::test]
async fn malformed_wait_headers_are_ignored() {
    let s = server(Kind::Memory, ServerConfig::default());
    let request = Request::post("/")
        .header("content-type", "application/json")
        .header("x-p2pcf-wait", "soon")
        .header("x-p2pcf-since", "-1")
        .body(Body::from(json!({ "r": "room4", "k": "w" }).to_string()))
        .expect("request");
    let started = Instant::now();
    let answer = send(&s.app, request).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(answer.status, 200);
}
