//! `GET /healthz` and `GET /metrics` over every store, and 200 concurrent joins through one
//! Redis-store instance.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use common::*;
use p2pcf_server::ServerConfig;
use serde_json::json;

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

/// The value of one series line (`name{labels} value`) in a metrics answer.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

async fn healthz_and_metrics(kind: Kind) {
    let off = server(kind, ServerConfig::default());
    let health = send(&off.app, get("/healthz")).await;
    assert_eq!(
        (health.status.as_u16(), health.text.as_str()),
        (200, "ok\n")
    );
    let page = send(&off.app, get("/metrics")).await;
    assert!(
        page.text.contains("Hello from P2PCF"),
        "without the flag /metrics is the worker's page"
    );

    let s = server(
        kind,
        ServerConfig {
            metrics: true,
            ..ServerConfig::default()
        },
    );
    let now = now_ms();
    for i in 0..3 {
        let body = publish("room1", &format!("c{i}"), &format!("s{i}"), now, json!([]));
        assert_eq!(send(&s.app, post(&body)).await.status, 200);
    }
    assert_eq!(send(&s.app, post(&json!({"r": "x"}))).await.status, 400);
    let m = send(&s.app, get("/metrics")).await;
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = &m.text;
    assert_eq!(
        series(
            text,
            "p2pcf_http_requests_total{route=\"poll\",status=\"200\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        series(
            text,
            "p2pcf_http_requests_total{route=\"poll\",status=\"400\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        series(text, "p2pcf_store_seconds_count{op=\"update_room\"}"),
        Some(3.0),
        "the rejected poll never reached the store"
    );
    assert_eq!(series(text, "p2pcf_store_errors_total"), Some(0.0));
    assert_eq!(series(text, "p2pcf_long_polls_held"), Some(0.0));
    match kind {
        Kind::Redis => assert!(series(text, "p2pcf_store_keys").is_some_and(|k| k >= 1.0)),
        _ => {
            assert_eq!(series(text, "p2pcf_rooms"), Some(1.0));
            assert_eq!(series(text, "p2pcf_room_entries"), Some(3.0));
        }
    }
    assert!(text.contains("# TYPE p2pcf_store_seconds histogram"));
    // Other methods on these paths are worker requests.
    let post_health = Request::post("/healthz")
        .header("content-type", "application/json")
        .body(Body::from(json!({"r": "room1"}).to_string()))
        .expect("request");
    assert_eq!(send(&s.app, post_health).await.sessions().len(), 3);
}
both_stores!(ops, healthz_and_metrics);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_through_one_redis_instance_are_never_lost() {
    let s = Arc::new(server(Kind::Redis, ServerConfig::default()));
    let now = now_ms();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let body = publish(
                "crowd",
                &format!("ctx{i}"),
                &format!("s{i}"),
                now,
                json!([]),
            );
            send(&s.app, post(&body)).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 200);
    }
    let mut seen = send(&s.app, post(&json!({"r": "crowd"}))).await.sessions();
    seen.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
    want.sort();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn a_redis_outage_shows_in_metrics_and_healthz() {
    let mut s = server(
        Kind::Redis,
        ServerConfig {
            metrics: true,
            ..ServerConfig::default()
        },
    );
    let now = now_ms();
    assert_eq!(
        send(&s.app, post(&publish("room1", "c", "s", now, json!([]))))
            .await
            .status,
        200
    );
    s.redis.as_mut().expect("redis").kill();
    assert_eq!(send(&s.app, post(&json!({"r": "room1"}))).await.status, 503);
    assert_eq!(send(&s.app, get("/healthz")).await.status, 503);
    let text = send(&s.app, get("/metrics")).await.text;
    assert_eq!(
        series(
            &text,
            "p2pcf_http_requests_total{route=\"poll\",status=\"503\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            "p2pcf_http_requests_total{route=\"healthz\",status=\"503\"}"
        ),
        Some(1.0)
    );
    assert_eq!(series(&text, "p2pcf_store_errors_total"), Some(1.0));
    assert_eq!(
        series(&text, "p2pcf_store_keys"),
        None,
        "not reported while Redis is down"
    );
}

#[test]
fn store_urls_parse_and_passwords_stay_out_of_logs() {
    use p2pcf_server::StoreConfig;
    for url in [
        "redis://127.0.0.1:6379",
        "redis://127.0.0.1:6379/2",
        "rediss://user:pw@redis.example:6380/0",
        "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
        "rediss+cluster://10.0.0.1:7000",
    ] {
        assert_eq!(
            url.parse::<StoreConfig>().expect(url),
            StoreConfig::Redis { url: url.into() }
        );
    }
    for bad in ["redis:", "redis://", "redis:6379", "postgres://x"] {
        let e = bad.parse::<StoreConfig>().expect_err(bad).to_string();
        assert!(e.contains("redis://HOST:PORT[/DB]"), "{bad}: {e}");
    }
    let shown = format!(
        "{:?}",
        StoreConfig::Redis {
            url: "rediss://user:secret@redis.example:6380/0".into()
        }
    );
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("redis.example:6380/0"), "{shown}");
    let toml: StoreConfig = serde_json::from_value(json!({"type": "redis", "url": "redis://h:1"}))
        .expect("the TOML/serde form");
    assert_eq!(
        toml,
        StoreConfig::Redis {
            url: "redis://h:1".into()
        }
    );
}
