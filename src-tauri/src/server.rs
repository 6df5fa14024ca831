//! The embedded signalling server: `p2pcf_server::serve` in-process on `127.0.0.1:PORT` (or
//! `0.0.0.0:PORT` with the LAN option). When the port is already taken by a running P2PCF server
//! (its `GET /` answers "Hello from P2PCF"), typically a first app instance, that one is used.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use p2pcf_server::ServerConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::AppError;

/// What `GET /` of a P2PCF server (ours or the worker) contains.
const HEALTH_MARK: &str = "Hello from P2PCF";

/// A running (or reused) server.
#[derive(Debug)]
pub struct EmbeddedServer {
    pub port: u16,
    pub lan: bool,
    /// The URL this app's client uses.
    pub url: String,
    /// With the LAN option: the URL others on the network paste as their worker URL.
    pub lan_url: Option<String>,
    /// With the LAN option: what a PeerJS web app on the network passes to `new Peer(...)`.
    pub peerjs_lan: Option<String>,
    /// `None` when another process's server is reused.
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl EmbeddedServer {
    /// Starts a server on `port`, or reuses the P2PCF server already listening there.
    pub async fn start(port: u16, lan: bool) -> Result<Self, AppError> {
        let bind = if lan {
            Ipv4Addr::UNSPECIFIED
        } else {
            Ipv4Addr::LOCALHOST
        };
        let url = format!("http://127.0.0.1:{port}");
        let lan_ip = if lan { lan_address() } else { None };
        let lan_url = lan_ip.map(|ip| format!("http://{ip}:{port}"));
        let config = ServerConfig::default();
        let peerjs_lan = lan_ip.filter(|_| config.peerjs.enabled).map(|ip| {
            format!(
                "new Peer({{host: '{ip}', port: {port}, path: '{}'}})",
                config.peerjs.normalized_path()
            )
        });
        match tokio::net::TcpListener::bind(SocketAddr::from((bind, port))).await {
            Ok(listener) => {
                let (stop, stopped) = oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    if let Err(e) = p2pcf_server::serve(listener, config, shutdown).await {
                        tracing::error!(error = %e, "embedded server stopped");
                    }
                });
                tracing::info!(port, lan, "embedded server started");
                Ok(Self {
                    port,
                    lan,
                    url,
                    lan_url,
                    peerjs_lan,
                    running: Some((stop, task)),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if is_p2pcf_server(&url).await {
                    tracing::info!(port, "reusing the P2PCF server already on the port");
                    Ok(Self {
                        port,
                        lan,
                        url,
                        lan_url,
                        peerjs_lan,
                        running: None,
                    })
                } else {
                    Err(AppError::Server(format!(
                        "port {port} is in use by something that is not a P2PCF server; \
                         choose another port in the settings"
                    )))
                }
            }
            Err(e) => Err(AppError::Server(format!(
                "cannot listen on port {port}: {e}"
            ))),
        }
    }

    /// True when this instance runs the server (false: reusing another one).
    pub fn owned(&self) -> bool {
        self.running.is_some()
    }

    /// Stops the server (if it is ours) after in-flight requests finish.
    pub async fn stop(mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                tracing::warn!("embedded server did not stop within 3 s");
            }
        }
    }
}

async fn is_p2pcf_server(url: &str) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    match client.get(url).send().await {
        Ok(response) => response
            .text()
            .await
            .is_ok_and(|body| body.contains(HEALTH_MARK)),
        Err(_) => false,
    }
}

/// The address others on the LAN reach us at: the source address of the default route (a UDP
/// `connect` sends nothing).
fn lan_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}
