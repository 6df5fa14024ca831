//! Hostile input, concurrency, vacuum, persistence across restarts, and `serve` on a socket.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use p2pcf_server::{FileStore, MemoryStore, ServerConfig, Store, StoreConfig};
use serde_json::{json, Value};

async fn oversized_bodies_get_413(kind: Kind) {
    let s = server(
        kind,
        ServerConfig {
            max_body_bytes: 1000,
            ..ServerConfig::default()
        },
    );
    let big = json!({"r": "room1", "pad": "x".repeat(2000)});
    let a = send(&s.app, post(&big)).await;
    assert_eq!(
        (a.status.as_u16(), a.text.as_str()),
        (413, "Payload too large")
    );
    // Without a Content-Length (streamed body) the limit still holds.
    let chunks: Vec<Result<&'static [u8], std::io::Error>> =
        vec![Ok(&[b' '; 600]), Ok(&[b' '; 600])];
    let stream = axum::body::Body::from_stream(futures::stream::iter(chunks));
    let a = send(&s.app, post_raw(stream)).await;
    assert_eq!(a.status, 413);
}
both_stores!(oversized, oversized_bodies_get_413);

async fn hostile_json_never_panics_or_500s(kind: Kind) {
    let s = server(kind, ServerConfig::default());
    let now = now_ms();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_r = format!(r#"{{"r":{}1{}}}"#, "[".repeat(100), "]".repeat(100));
    let huge_ips = json!({"r": "room1", "k": "c", "t": now, "x": 1000,
        "d": ["s", "c", false, DTLS, 1, vec!["1.2.3.4"; 50_000]]});
    let huge_p = json!({"r": "room1", "k": "c2", "t": now, "x": 1000, "p": vec![json!(["s", 1]); 20_000],
        "d": ["s2", "c", false, DTLS, 1, []]});
    let mut bodies: Vec<String> = vec![deep, deep_r, huge_ips.to_string(), huge_p.to_string()];
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e300),
        json!("x"),
        json!([]),
        json!({}),
        json!([[]]),
        json!([{}]),
    ];
    for field in ["r", "k", "t", "x", "d", "p", "dk"] {
        for v in &values {
            let mut b = publish("room1", "ctx", "s", now, json!([]));
            b[field] = v.clone();
            bodies.push(b.to_string());
        }
    }
    for i in 0..6 {
        for v in &values {
            let mut b = publish("room1", "ctx", "s", now, json!([]));
            b["d"][i] = v.clone();
            bodies.push(b.to_string());
        }
    }
    bodies.push(r#"{"r":"room1","t":1e999}"#.into());
    bodies.push("{\"r\":\"room1\",\"k\":\"\\ud800\"}".into());
    bodies.push(String::from_utf8_lossy(b"{\"r\":\"ro\xffom\"}").into_owned());
    for body in &bodies {
        for req in [
            post_raw(body.clone()),
            leave(&serde_json::from_str::<Value>(body).unwrap_or(Value::Null)),
        ] {
            let a = send(&s.app, req).await;
            assert!(
                a.status.is_success() || a.status.is_client_error(),
                "{} for {}",
                a.status,
                &body[..body.len().min(200)]
            );
        }
    }
    // The room still answers normally afterwards.
    let a = send(&s.app, post(&json!({"r": "room1"}))).await;
    assert_eq!(a.status, 200);
}
both_stores!(hostile, hostile_json_never_panics_or_500s);

async fn concurrent_joins_are_never_lost(kind: Kind) {
    let s = Arc::new(server(kind, ServerConfig::default()));
    let now = now_ms();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let a = send(
                &s.app,
                post(&publish(
                    "crowd",
                    &format!("ctx{i}"),
                    &format!("s{i}"),
                    now,
                    json!([]),
                )),
            )
            .await;
            assert_eq!(a.status, 200);
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let mut seen = send(&s.app, post(&json!({"r": "crowd"}))).await.sessions();
    seen.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
    want.sort();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_memory_store() {
    concurrent_joins_are_never_lost(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_file_store() {
    concurrent_joins_are_never_lost(Kind::File).await;
}

async fn vacuum_removes_expired_entries_and_empty_rooms(store: Arc<dyn Store>) {
    let state = p2pcf_server::AppState::with_store(ServerConfig::default(), store.clone());
    let app = p2pcf_server::router(state);
    let now = now_ms();
    let mut short = publish("room1", "ctxA", "sA", now, json!([]));
    short["x"] = json!(1);
    send(&app, post(&short)).await;
    send(&app, post(&publish("room2", "ctxB", "sB", now, json!([])))).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        send(&app, post(&json!({"r": "room1"}))).await.sessions(),
        Vec::<String>::new(),
        "expired is hidden"
    );
    let report = store.vacuum(now_ms()).await.expect("vacuum");
    assert_eq!((report.entries, report.rooms), (1, 1));
    let report = store.vacuum(now + 15.0 * 60_000.0).await.expect("vacuum");
    assert_eq!((report.entries, report.rooms), (1, 1));
}

#[tokio::test]
async fn vacuum_memory_store() {
    vacuum_removes_expired_entries_and_empty_rooms(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn vacuum_file_store() {
    let dir = TempDir::new();
    let store = Arc::new(FileStore::open(&dir.0).expect("open"));
    vacuum_removes_expired_entries_and_empty_rooms(store.clone()).await;
    store.flush().await.expect("flush");
    let left = std::fs::read_dir(dir.0.join("rooms"))
        .expect("rooms dir")
        .count();
    assert_eq!(left, 0, "vacuumed rooms are deleted from disk");
}

#[tokio::test]
async fn file_store_keeps_rooms_and_counts_across_restart() {
    let dir = TempDir::new();
    let now = now_ms();
    let dk;
    {
        let store = Arc::new(FileStore::open(&dir.0).expect("open"));
        let app = p2pcf_server::router(p2pcf_server::AppState::with_store(
            ServerConfig::default(),
            store.clone(),
        ));
        dk = send(
            &app,
            post(&publish("room1", "ctxA", "sA", now, json!([["sB", 7]]))),
        )
        .await
        .json()["dk"]
            .clone();
        send(&app, post(&publish("room1", "ctxC", "sC", now, json!([])))).await;
        store
            .incr_origin_count("https://o", "2030-01")
            .await
            .expect("incr");
        store.flush().await.expect("flush");
    }
    let store = Arc::new(FileStore::open(&dir.0).expect("reopen"));
    let app = p2pcf_server::router(p2pcf_server::AppState::with_store(
        ServerConfig::default(),
        store.clone(),
    ));
    let b = send(&app, post(&peer("room1", "ctxB", "sB", now))).await;
    assert_eq!(b.sessions(), vec!["sA", "sC"]);
    assert_eq!(b.json()["pk"], json!([["sB", 7]]));
    assert_eq!(
        store
            .incr_origin_count("https://o", "2030-01")
            .await
            .expect("incr"),
        2
    );
    let mut bye = peer("room1", "ctxA", "sA", now);
    bye["dk"] = dk;
    assert_eq!(
        send(&app, leave(&bye)).await.status,
        200,
        "delete key survives too"
    );
}

#[tokio::test]
async fn serve_answers_on_a_socket_and_shuts_down_gracefully() {
    let dir = TempDir::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        store: StoreConfig::File {
            path: dir.0.clone(),
        },
        ..ServerConfig::default()
    };
    let server = tokio::spawn(p2pcf_server::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let body = publish("room1", "ctxA", "sA", now_ms(), json!([])).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json \r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = raw_http(addr, &request).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"dk\":\""), "{response}");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops")
        .expect("task")
        .expect("serve ok");
    assert!(
        dir.0.join("rooms/room1.json").exists(),
        "flushed on shutdown"
    );
}

async fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out).into_owned()
}
