//! The runtime hook that sizes ICE sockets: webrtc-rs hands every UDP socket it binds to
//! [`Runtime::wrap_udp_socket`]; this runtime sets `SO_RCVBUF` there and records what the
//! kernel granted, then lets tokio's runtime do the rest.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

/// What the kernel granted for each ICE socket of one peer connection.
#[derive(Debug, Default)]
pub struct SocketReport {
    requested: usize,
    granted: Mutex<Vec<(SocketAddr, usize)>>,
}

impl SocketReport {
    /// The `SO_RCVBUF` size requested (0: the OS default was kept).
    pub fn requested(&self) -> usize {
        self.requested
    }

    /// Each bound socket and the receive buffer the kernel reports for it (Linux reports twice
    /// the usable size: it counts its bookkeeping overhead).
    pub fn granted(&self) -> Vec<(SocketAddr, usize)> {
        self.granted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The smallest receive buffer granted to any socket, if one was bound.
    pub fn min_granted(&self) -> Option<usize> {
        self.granted().iter().map(|(_, size)| *size).min()
    }
}

/// Tokio, plus receive-buffer sizing of every UDP socket.
#[derive(Debug)]
pub(crate) struct TunedRuntime {
    inner: TokioRuntime,
    report: Arc<SocketReport>,
}

impl TunedRuntime {
    pub(crate) fn with_report(receive_buffer: usize) -> (Arc<dyn Runtime>, Arc<SocketReport>) {
        let report = Arc::new(SocketReport {
            requested: receive_buffer,
            granted: Mutex::new(Vec::new()),
        });
        let runtime = TunedRuntime {
            inner: TokioRuntime,
            report: Arc::clone(&report),
        };
        (Arc::new(runtime), report)
    }
}

impl Runtime for TunedRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let sock = socket2::SockRef::from(&socket);
        if self.report.requested > 0 {
            if let Err(e) = sock.set_recv_buffer_size(self.report.requested) {
                tracing::warn!(requested = self.report.requested, "SO_RCVBUF not set: {e}");
            }
        }
        let granted = sock.recv_buffer_size().unwrap_or(0);
        let local = socket.local_addr()?;
        tracing::debug!(
            %local,
            requested = self.report.requested,
            granted,
            "ICE socket receive buffer"
        );
        self.report
            .granted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((local, granted));
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (p2pcf: tuned UDP receive buffers)"
    }
}
