//! A raw PeerJS signalling WebSocket for tests (tokio-tungstenite): connect with any query,
//! send text or binary frames, and read what the server sends as [`Frame`]s, with timeouts.
//! Ping/pong frames are answered by tungstenite and not reported.
//!
//! ```no_run
//! # async fn t(base: &str) -> anyhow::Result<()> {
//! use std::time::Duration;
//! use p2pcf_tests::peerjs_ws::{ws_url, PeerWs};
//! let mut ws = PeerWs::connect(&ws_url(base, "key=peerjs&id=alice&token=t1")).await?;
//! let open = ws.next(Duration::from_secs(2)).await;
//! # let _ = open; Ok(()) }
//! ```

use std::time::Duration;

use anyhow::anyhow;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// `ws://…{path}peerjs?{query}` for an HTTP base URL ending in `/` (`http://127.0.0.1:1/peerjs/`).
pub fn ws_url(http_base: &str, query: &str) -> String {
    let base = http_base.replacen("http://", "ws://", 1);
    format!("{base}peerjs?{query}")
}

/// What one read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame: `None` when it carried no status code (clients then report 1005).
    Close(Option<(u16, String)>),
    /// The stream ended without a close frame, or failed (the error text).
    Ended(String),
}

impl Frame {
    /// The frame's text, if it is a text frame.
    pub fn text(&self) -> Option<&str> {
        match self {
            Frame::Text(t) => Some(t),
            _ => None,
        }
    }

    /// A one-line description: the text, `binary(N bytes)`, `close(CODE "reason")`,
    /// `close(no code)`, `ended`.
    pub fn describe(&self) -> String {
        match self {
            Frame::Text(t) => t.clone(),
            Frame::Binary(b) => format!("binary({} bytes)", b.len()),
            Frame::Close(None) => "close(no code)".into(),
            Frame::Close(Some((code, reason))) => format!("close({code} {reason:?})"),
            Frame::Ended(_) => "ended".into(),
        }
    }
}

/// Why an upgrade did not produce a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeRefused {
    /// The server answered HTTP with this status instead of 101.
    Status(u16),
    /// Anything else (connection refused, protocol error).
    Other(String),
}

pub struct PeerWs {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    ended: bool,
}

impl PeerWs {
    /// Opens the WebSocket; an HTTP refusal is an error naming its status.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::try_connect(url)
            .await
            .map_err(|e| anyhow!("WebSocket upgrade to {url} refused: {e:?}"))
    }

    /// Opens the WebSocket, reporting a refusal as a value (for cases that expect one).
    pub async fn try_connect(url: &str) -> Result<Self, UpgradeRefused> {
        let connect = tokio_tungstenite::connect_async(url);
        match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Err(_) => Err(UpgradeRefused::Other("upgrade timed out after 10 s".into())),
            Ok(Ok((ws, _response))) => Ok(Self { ws, ended: false }),
            Ok(Err(tungstenite::Error::Http(response))) => {
                Err(UpgradeRefused::Status(response.status().as_u16()))
            }
            Ok(Err(e)) => Err(UpgradeRefused::Other(e.to_string())),
        }
    }

    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.ws.send(Message::binary(bytes.to_vec())).await?;
        Ok(())
    }

    /// Sends a close frame with this code (the server's answer can still be read).
    pub async fn close(&mut self, code: u16) -> anyhow::Result<()> {
        let frame = tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        self.ws.send(Message::Close(Some(frame))).await?;
        Ok(())
    }

    /// The next frame within `timeout`, or `None` if nothing came. After the stream ended,
    /// always `Some(Frame::Ended(..))` at once.
    pub async fn next(&mut self, timeout: Duration) -> Option<Frame> {
        if self.ended {
            return Some(Frame::Ended("already ended".into()));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let read = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            let frame = match read {
                None => Frame::Ended("end of stream".into()),
                Some(Err(tungstenite::Error::ConnectionClosed)) => {
                    Frame::Ended("connection closed".into())
                }
                Some(Err(e)) => Frame::Ended(e.to_string()),
                Some(Ok(Message::Text(t))) => Frame::Text(t.as_str().to_owned()),
                Some(Ok(Message::Binary(b))) => Frame::Binary(b.to_vec()),
                Some(Ok(Message::Close(c))) => {
                    Frame::Close(c.map(|c| (u16::from(c.code), c.reason.as_str().to_owned())))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            };
            if matches!(frame, Frame::Ended(_)) {
                self.ended = true;
            }
            return Some(frame);
        }
    }

    /// Every frame until none arrives for `quiet`, or the stream ends (the `Ended` is not
    /// included; a close frame is).
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next(quiet).await {
            if matches!(frame, Frame::Ended(_)) {
                break;
            }
            let closing = matches!(frame, Frame::Close(_));
            frames.push(frame);
            if closing {
                break;
            }
        }
        frames
    }

    /// Whether the stream has ended (read past the close).
    pub fn is_ended(&self) -> bool {
        self.ended
    }
}
