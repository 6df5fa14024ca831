//! Outgoing messages: one writer task per connected peer chunks each message lazily and hands
//! the chunks to the data channel one at a time, so a huge message never sits in memory twice
//! and a slow peer pushes back on the sender (through [`PeerLink::send`]'s backpressure).

use std::sync::Arc;

use bytes::Bytes;
use p2pcf_proto::chunk;
use p2pcf_proto::SessionId;
use tokio::sync::{mpsc, oneshot, watch};

use crate::client::ClientError;
use crate::rtc::{PeerLink, RtcError};

/// Messages queued per peer before `send` waits for room.
const QUEUE_DEPTH: usize = 16;

pub(crate) struct Outgoing {
    data: Bytes,
    progress: Option<watch::Sender<u64>>,
    done: oneshot::Sender<Result<(), ClientError>>,
}

/// Starts the writer task of a peer; it ends when the returned sender is dropped.
pub(crate) fn spawn_writer(link: Arc<PeerLink>) -> mpsc::Sender<Outgoing> {
    let (tx, mut rx) = mpsc::channel::<Outgoing>(QUEUE_DEPTH);
    tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let result = send_message(&link, &message.data, message.progress.as_ref()).await;
            let _ = message.done.send(result);
        }
    });
    tx
}

/// Queues `data` for a peer without blocking the driver loop; `done` gets the outcome.
pub(crate) fn enqueue(
    writer: mpsc::Sender<Outgoing>,
    data: Bytes,
    progress: Option<watch::Sender<u64>>,
    done: oneshot::Sender<Result<(), ClientError>>,
) {
    tokio::spawn(async move {
        let message = Outgoing {
            data,
            progress,
            done,
        };
        if let Err(mpsc::error::SendError(message)) = writer.send(message).await {
            let _ = message.done.send(Err(ClientError::PeerClosed));
        }
    });
}

/// Sends `data` to every target; `done` gets one outcome per peer.
pub(crate) fn broadcast(
    targets: Vec<(SessionId, mpsc::Sender<Outgoing>)>,
    data: Bytes,
    done: oneshot::Sender<Vec<(SessionId, Result<(), ClientError>)>>,
) {
    let pending: Vec<_> = targets
        .into_iter()
        .map(|(peer, writer)| {
            let (tx, rx) = oneshot::channel();
            enqueue(writer, data.clone(), None, tx);
            (peer, rx)
        })
        .collect();
    tokio::spawn(async move {
        let mut outcomes = Vec::with_capacity(pending.len());
        for (peer, rx) in pending {
            let outcome = rx.await.unwrap_or(Err(ClientError::PeerClosed));
            outcomes.push((peer, outcome));
        }
        let _ = done.send(outcomes);
    });
}

async fn send_message(
    link: &PeerLink,
    data: &Bytes,
    progress: Option<&watch::Sender<u64>>,
) -> Result<(), ClientError> {
    if !chunk::needs_chunking(data) {
        link.send(data.clone()).await.map_err(map_error)?;
        if let Some(progress) = progress {
            progress.send_replace(data.len() as u64);
        }
        return Ok(());
    }
    let message_id = chunk::random_message_id(&mut rand::thread_rng());
    let total = data.len() as u64;
    let mut sent: u64 = 0;
    for frame in chunk::split(data, message_id) {
        let payload = frame.len().saturating_sub(chunk::HEADER_LEN) as u64;
        link.send(Bytes::from(frame)).await.map_err(map_error)?;
        // Frames are zero-padded to a multiple of 4, so cap at the real total.
        sent = (sent + payload).min(total);
        if let Some(progress) = progress {
            progress.send_replace(sent);
        }
    }
    Ok(())
}

fn map_error(e: RtcError) -> ClientError {
    match e {
        RtcError::Closed => ClientError::PeerClosed,
        other => ClientError::Rtc(other.to_string()),
    }
}
