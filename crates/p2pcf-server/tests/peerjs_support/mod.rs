//! Shared by the PeerJS socket tests: a server on a loopback port and a WebSocket client.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use p2pcf_server::listener::TimedListener;
use p2pcf_server::peerjs::Hub;
use p2pcf_server::{router, AppState, ServerConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server on 127.0.0.1 with its PeerJS hub; stopped on drop.
pub struct Server {
    pub port: u16,
    pub hub: Arc<Hub>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(config: ServerConfig) -> Server {
    let head_timeout = Duration::from_millis(config.request_head_timeout_ms);
    let state = AppState::new(config).expect("state");
    let hub = state.peerjs().cloned().expect("peerjs enabled");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let listener = TimedListener::new(listener, head_timeout);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });
    Server { port, hub, task }
}

pub fn url(port: u16, id: &str, token: &str) -> String {
    format!("ws://127.0.0.1:{port}/peerjs/peerjs?key=peerjs&id={id}&token={token}&version=1.5.5")
}

pub async fn connect_raw(port: u16, query: &str) -> Ws {
    let url = format!("ws://127.0.0.1:{port}/peerjs/peerjs?{query}");
    tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect")
        .0
}

/// Connects as `id` and checks the `OPEN`.
pub async fn join(port: u16, id: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url(port, id, &format!("t{id}")))
        .await
        .expect("ws connect");
    assert_eq!(next_text(&mut ws).await, r#"{"type":"OPEN"}"#);
    ws
}

pub async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
}

/// The next text frame (5 s at most).
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return t.to_string(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Waits for the server's close; returns its code (`None` = close frame without code).
pub async fn expect_close(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(Message::Text(t)))) => panic!("expected close, got {t}"),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => return None,
            Err(_) => panic!("no close within 5 s"),
        }
    }
}

/// Asserts nothing arrives for `ms`.
pub async fn quiet(ws: &mut Ws, ms: u64) {
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(ms), ws.next()).await {
        panic!("expected silence, got {got:?}");
    }
}
