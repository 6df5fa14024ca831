//! One task per WebSocket: moves frames between the socket and the [`Hub`], nothing else.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;

use super::hub::{Hub, Out};

/// tungstenite reads into a buffer of this size (zero-filled, so it is resident memory for
/// every socket; its default is 128 KiB). Larger frames grow it as needed.
const READ_BUFFER: usize = 1024;

/// Close codes (RFC 6455).
const GOING_AWAY: u16 = 1001;
const PROTOCOL_ERROR: u16 = 1002;
const TOO_BIG: u16 = 1009;

/// How long a socket whose peer sent a close frame waits for the handshake to finish.
const CLOSE_DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Accepts the upgrade; the socket then lives in [`run`].
pub(crate) fn upgrade(hub: Arc<Hub>, ws: WebSocketUpgrade, query: String) -> Response {
    let max = hub.config().max_frame_bytes.max(1);
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "peerjs upgrade failed"))
        .on_upgrade(move |socket| run(hub, socket, query))
}

async fn run(hub: Arc<Hub>, mut socket: WebSocket, query: String) {
    let (conn, mut outgoing) = hub.open_socket();
    let mut shutdown = hub.shutdown_signal();
    hub.connect(conn, &query);
    drop(query);
    let mut stopping = *shutdown.borrow_and_update();
    while !stopping {
        tokio::select! {
            biased;
            out = outgoing.recv() => match out {
                Some(Out::Frame(frame)) => {
                    if socket.send(Message::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                Some(Out::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    tracing::debug!(conn, bytes = text.len(), "peerjs frame");
                    hub.message(conn, text.as_bytes());
                }
                Some(Ok(Message::Binary(data))) => {
                    tracing::debug!(conn, bytes = data.len(), "peerjs binary frame");
                    hub.message(conn, &data);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) => {
                    // tungstenite has queued the echo of the peer's close frame; reading on
                    // flushes it and then ends the stream, completing the closing handshake as
                    // the official server's `ws` does (bounded, so a peer that never closes its
                    // side cannot hold the task).
                    let drain = async { while socket.recv().await.is_some() {} };
                    let _ = tokio::time::timeout(CLOSE_DRAIN, drain).await;
                    break;
                }
                None => break,
                Some(Err(e)) => {
                    let code = close_code_for(e);
                    let _ = socket.send(Message::Close(Some(CloseFrame {
                        code,
                        reason: "".into(),
                    }))).await;
                    break;
                }
            },
            _ = shutdown.changed() => stopping = true,
        }
    }
    if stopping {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: GOING_AWAY,
                reason: "server shutting down".into(),
            })))
            .await;
    }
    hub.closed(conn);
}

/// 1009 for a message over `max_frame_bytes`, 1002 for anything else the peer got wrong.
fn close_code_for(error: axum::Error) -> u16 {
    let inner = error.into_inner();
    let too_big = inner
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
    if too_big {
        tracing::debug!("peerjs message over the size limit");
        TOO_BIG
    } else {
        tracing::debug!(error = %inner, "peerjs socket error");
        PROTOCOL_ERROR
    }
}
