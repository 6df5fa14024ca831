//! Our Rust P2PCF client in a test: join with loopback-only WebRTC and no STUN/TURN, then wait
//! for events with deadlines and readable failures.

use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use p2pcf_client::rtc::RtcOptions;
use p2pcf_client::{join, ClientEvent, ClientHandle, JoinOptions, SessionId};
use tokio::sync::mpsc::UnboundedReceiver;

/// Join options for tests on one machine: loopback candidates only, empty ICE server lists.
pub fn loopback_options(worker_url: &str) -> JoinOptions {
    let mut options = JoinOptions {
        rtc: RtcOptions::loopback_only(),
        ..JoinOptions::default()
    };
    options.config.worker_url = worker_url.to_string();
    options.config.stun_ice_servers = vec![];
    options.config.turn_ice_servers = vec![];
    options
}

/// A joined Rust client and its event stream.
pub struct RustPeer {
    pub handle: ClientHandle,
    pub events: UnboundedReceiver<ClientEvent>,
}

impl RustPeer {
    /// Joins `room` as `name` through `worker_url`.
    pub async fn join(worker_url: &str, room: &str, name: &str) -> anyhow::Result<Self> {
        Self::join_with(room, name, loopback_options(worker_url)).await
    }

    /// Joins with explicit options.
    pub async fn join_with(room: &str, name: &str, options: JoinOptions) -> anyhow::Result<Self> {
        let (handle, events) = join(room, name, options).await?;
        Ok(Self { handle, events })
    }

    pub fn session_id(&self) -> &SessionId {
        self.handle.session_id()
    }

    /// The next event, or an error naming `what` at the deadline.
    pub async fn next_event(
        &mut self,
        deadline: Instant,
        what: &str,
    ) -> anyhow::Result<ClientEvent> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.events.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => bail!("event stream ended while waiting for {what}"),
            Err(_) => bail!("timed out waiting for {what}"),
        }
    }

    /// Waits until `count` distinct peers connected; returns (session id, client id) of each.
    pub async fn connected(
        &mut self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<(SessionId, String)>> {
        let deadline = Instant::now() + timeout;
        let mut peers: Vec<(SessionId, String)> = Vec::new();
        while peers.len() < count {
            let what = format!("{count} peer connections ({} so far)", peers.len());
            if let ClientEvent::PeerConnected {
                session_id,
                client_id,
            } = self.next_event(deadline, &what).await?
            {
                if !peers.iter().any(|(id, _)| id == &session_id) {
                    peers.push((session_id, client_id.to_string()));
                }
            }
        }
        Ok(peers)
    }

    /// The next application message.
    pub async fn message(&mut self, timeout: Duration) -> anyhow::Result<(SessionId, Bytes)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let ClientEvent::Message { from, data } =
                self.next_event(deadline, "a message").await?
            {
                return Ok((from, data));
            }
        }
    }

    /// Waits until `peer` is reported closed.
    pub async fn closed(&mut self, peer: &SessionId, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let ClientEvent::PeerClosed { session_id, .. } =
                self.next_event(deadline, "the peer to close").await?
            {
                if &session_id == peer {
                    return Ok(());
                }
            }
        }
    }
}
