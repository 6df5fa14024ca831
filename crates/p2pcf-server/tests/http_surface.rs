//! Methods, headers, CORS and the origin policy, as worker.js answers them.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use p2pcf_server::{month_key, ServerConfig};
use serde_json::json;

fn req(method: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri("/any/path?x=1")
}

#[tokio::test]
async fn get_serves_the_health_page_on_any_path() {
    let s = server(Kind::Memory, ServerConfig::default());
    let a = send(&s.app, req("GET").body(Body::empty()).expect("req")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("text/html"));
    assert!(a.text.contains("Hello from P2PCF"));
    assert!(a.text.contains("configured properly"));
}

#[tokio::test]
async fn options_preflight_echoes_requested_headers() {
    let s = server(Kind::Memory, ServerConfig::default());
    let a = send(
        &s.app,
        req("OPTIONS")
            .header("origin", "https://x")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,x-worker-method",
            )
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        a.header("access-control-allow-methods"),
        Some("GET,HEAD,POST,DELETE,OPTIONS")
    );
    assert_eq!(a.header("access-control-max-age"), Some("86400"));
    assert_eq!(
        a.header("access-control-allow-headers"),
        Some("content-type,x-worker-method")
    );
    assert_eq!(a.header("content-type"), None);
    assert_eq!(a.text, "");
}

#[tokio::test]
async fn plain_options_answers_allow() {
    let s = server(Kind::Memory, ServerConfig::default());
    let a = send(
        &s.app,
        req("OPTIONS")
            .header("origin", "https://x")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("allow"), Some("GET, POST, DELETE, OPTIONS"));
    assert_eq!(a.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn content_type_must_be_json_trimmed_with_optional_charset() {
    let s = server(Kind::Memory, ServerConfig::default());
    let body = r#"{"r":"room1"}"#;
    for ct in [
        "application/json",
        "application/json ",
        " application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=\"UTF-8\"",
    ] {
        let a = send(
            &s.app,
            req("POST")
                .header("content-type", ct)
                .body(Body::from(body))
                .expect("req"),
        )
        .await;
        assert_eq!(a.status, 200, "{ct:?}");
        assert_eq!(a.text, r#"{"ps":[],"pk":[]}"#);
        assert_eq!(a.header("content-type"), Some("text/plain;charset=UTF-8"));
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
        assert_eq!(a.header("vary"), Some("Origin"));
    }
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json; charset=latin1"),
        Some("application/jsonx"),
    ] {
        let mut r = req("POST");
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        let a = send(&s.app, r.body(Body::from(body)).expect("req")).await;
        assert_eq!(
            (a.status.as_u16(), a.text.as_str()),
            (400, "Expected content-type application/json"),
            "{ct:?}"
        );
        assert_eq!(a.header("access-control-allow-origin"), None);
        assert_eq!(a.header("vary"), None);
    }
}

#[tokio::test]
async fn other_methods_are_not_allowed_after_the_content_type_check() {
    let s = server(Kind::Memory, ServerConfig::default());
    for m in ["PUT", "PATCH", "HEAD"] {
        let a = send(
            &s.app,
            req(m)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .expect("req"),
        )
        .await;
        assert_eq!(a.status, 405, "{m}");
        let a = send(&s.app, req(m).body(Body::from("{}")).expect("req")).await;
        assert_eq!(a.status, 400, "{m}");
    }
    let a = send(
        &s.app,
        req("PUT")
            .header("content-type", "application/json")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(a.text, "Method not allowed");
}

#[tokio::test]
async fn delete_method_and_worker_method_header_both_leave() {
    let s = server(Kind::Memory, ServerConfig::default());
    let now = now_ms();
    let dk = send(
        &s.app,
        post(&publish("room1", "ctxA", "sA", now, json!([]))),
    )
    .await
    .json()["dk"]
        .clone();
    let mut body = peer("room1", "ctxA", "sA", now);
    body["dk"] = dk.clone();
    let a = send(
        &s.app,
        req("DELETE")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("req"),
    )
    .await;
    assert_eq!((a.status.as_u16(), a.text.as_str()), (200, "{}"));
    assert_eq!(a.header("vary"), Some("Origin"));
    let a = send(&s.app, leave(&body)).await;
    assert_eq!((a.status.as_u16(), a.text.as_str()), (404, "No delete key"));
}

async fn origin_quota_is_exact_per_month(kind: Kind) {
    let s = server(
        kind,
        ServerConfig {
            origin_quota: Some(3),
            ..ServerConfig::default()
        },
    );
    let with_origin = |o: &str| {
        req("POST")
            .header("origin", o)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"r":"room1"}"#))
            .expect("req")
    };
    for _ in 0..3 {
        assert_eq!(send(&s.app, with_origin("https://a")).await.status, 200);
    }
    let a = send(&s.app, with_origin("https://a")).await;
    assert_eq!((a.status.as_u16(), a.text.as_str()), (429, "Over quota"));
    assert_eq!(a.header("access-control-allow-origin"), None);
    // GET and OPTIONS count too; other origins have their own count; no Origin is never counted.
    assert_eq!(
        send(
            &s.app,
            req("GET")
                .header("origin", "https://a")
                .body(Body::empty())
                .expect("req")
        )
        .await
        .status,
        429
    );
    assert_eq!(send(&s.app, with_origin("https://b")).await.status, 200);
    assert_eq!(send(&s.app, post_raw(r#"{"r":"room1"}"#)).await.status, 200);
    // A new month starts from zero.
    let next_month = now_ms() + 32.0 * 86_400_000.0;
    let count = s
        .store
        .incr_origin_count("https://a", &month_key(next_month))
        .await
        .expect("count");
    assert_eq!(count, 1);
}
both_stores!(origin_quota, origin_quota_is_exact_per_month);

#[tokio::test]
async fn allowed_origins_pass_and_others_are_unauthorized_by_default() {
    let s = server(
        Kind::Memory,
        ServerConfig {
            allowed_origins: vec!["https://ok".into()],
            ..ServerConfig::default()
        },
    );
    let get = |o: &str| {
        req("GET")
            .header("origin", o)
            .body(Body::empty())
            .expect("req")
    };
    for _ in 0..5 {
        assert_eq!(send(&s.app, get("https://ok")).await.status, 200);
    }
    let a = send(&s.app, get("https://other")).await;
    assert_eq!((a.status.as_u16(), a.text.as_str()), (401, "Unauthorized"));
    assert_eq!(
        send(&s.app, req("GET").body(Body::empty()).expect("req"))
            .await
            .status,
        200
    );

    let s = server(
        Kind::Memory,
        ServerConfig {
            allowed_origins: vec!["https://ok".into()],
            origin_quota: Some(1),
            ..ServerConfig::default()
        },
    );
    assert_eq!(send(&s.app, get("https://other")).await.status, 200);
    assert_eq!(send(&s.app, get("https://other")).await.status, 429);
    assert_eq!(send(&s.app, get("https://ok")).await.status, 200);

    let s = server(
        Kind::Memory,
        ServerConfig {
            origin_quota: Some(0),
            ..ServerConfig::default()
        },
    );
    assert_eq!(send(&s.app, get("https://x")).await.status, 401);
}

#[test]
fn default_quota_follows_the_worker_rule() {
    assert_eq!(ServerConfig::default().effective_origin_quota(), 10_000);
    let with_allowed = ServerConfig {
        allowed_origins: vec!["a".into()],
        ..ServerConfig::default()
    };
    assert_eq!(with_allowed.effective_origin_quota(), 0);
}
