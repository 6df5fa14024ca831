//! Helpers for the HTTP-level tests: a router over either store, requests, answers.
#![allow(dead_code)]

pub mod redis_server;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use p2pcf_server::{
    router, AppState, FileStore, MemoryStore, RedisOptions, RedisStore, ServerConfig, Store,
};
use serde_json::{json, Value};
use tower::ServiceExt;

pub const DTLS: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Memory,
    File,
    /// A real redis-server started for the test.
    Redis,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "p2pcf-server-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            rand_suffix()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

fn rand_suffix() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    pub app: Router,
    pub store: Arc<dyn Store>,
    pub dir: Option<TempDir>,
    pub redis: Option<redis_server::RedisServer>,
}

pub fn server(kind: Kind, config: ServerConfig) -> Server {
    let mut redis = None;
    let (store, dir): (Arc<dyn Store>, _) = match kind {
        Kind::Memory => (Arc::new(MemoryStore::new()), None),
        Kind::File => {
            let dir = TempDir::new();
            (
                Arc::new(FileStore::open(&dir.0).expect("open file store")),
                Some(dir),
            )
        }
        Kind::Redis => {
            let server = redis_server::RedisServer::start();
            let store = RedisStore::open(&server.url(), RedisOptions::default()).expect("open");
            redis = Some(server);
            (Arc::new(store), None)
        }
    };
    let state = AppState::with_store(config, store.clone());
    Server {
        app: router(state),
        store,
        dir,
        redis,
    }
}

pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn sessions(&self) -> Vec<String> {
        self.json()["ps"]
            .as_array()
            .expect("ps array")
            .iter()
            .map(|p| p[0].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let response = app.clone().oneshot(req).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub fn post_raw(body: impl Into<Body>) -> Request<Body> {
    Request::post("/")
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request")
}

pub fn post(body: &Value) -> Request<Body> {
    post_raw(body.to_string())
}

pub fn leave(body: &Value) -> Request<Body> {
    Request::post("/")
        .header("content-type", "application/json")
        .header("x-worker-method", "DELETE")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// A full publish body, as the JS client sends it.
pub fn publish(room: &str, ctx: &str, session: &str, t: f64, p: Value) -> Value {
    let mut v = peer(room, ctx, session, t);
    v["p"] = p;
    v
}

/// A poll with `d` but no `p`.
pub fn peer(room: &str, ctx: &str, session: &str, t: f64) -> Value {
    json!({
        "r": room, "k": ctx, "t": t, "x": 120000,
        "d": [session, format!("client-{ctx}"), false, DTLS, t, ["1.2.3.4", "2001:db8::1"]],
    })
}

/// Runs one async test body over the memory store, the file store and a Redis store.
#[macro_export]
macro_rules! both_stores {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn memory_store() {
                $body(common::Kind::Memory).await
            }
            #[tokio::test]
            async fn file_store() {
                $body(common::Kind::File).await
            }
            #[tokio::test]
            async fn redis_store() {
                $body(common::Kind::Redis).await
            }
        }
    };
}
