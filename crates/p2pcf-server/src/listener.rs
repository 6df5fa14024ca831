//! The TCP listener `serve` uses: `TCP_NODELAY` on every connection (small signalling frames
//! must not wait for Nagle), and a deadline for the first request head, so a connection that
//! never finishes its request (a stalled WebSocket upgrade, a port scan) is dropped instead of
//! holding a task and buffers forever. axum's own listener has neither.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// A [`TcpListener`] whose connections must send a complete request head within `head_timeout`.
#[derive(Debug)]
pub struct TimedListener {
    inner: TcpListener,
    head_timeout: Duration,
}

impl TimedListener {
    /// Wraps `inner`.
    pub fn new(inner: TcpListener, head_timeout: Duration) -> Self {
        Self {
            inner,
            head_timeout,
        }
    }
}

impl axum::serve::Listener for TimedListener {
    type Io = HeadDeadline;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (HeadDeadline::new(stream, self.head_timeout), addr);
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors and the like: back off as axum does.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A TCP stream that fails its reads once the deadline passes before the end of the first
/// request head (`\r\n\r\n`) was read; after that it is a plain stream.
#[derive(Debug)]
pub struct HeadDeadline {
    inner: TcpStream,
    deadline: Option<Pin<Box<Sleep>>>,
    matched: usize,
}

const HEAD_END: &[u8; 4] = b"\r\n\r\n";

impl HeadDeadline {
    fn new(inner: TcpStream, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            matched: 0,
        }
    }
}

/// Advances the `\r\n\r\n` matcher over `bytes`; true once the head has ended.
fn head_ends(matched: &mut usize, bytes: &[u8]) -> bool {
    for &b in bytes {
        *matched = if b == HEAD_END[*matched] {
            *matched + 1
        } else if b == b'\r' {
            1
        } else {
            0
        };
        if *matched == HEAD_END.len() {
            return true;
        }
    }
    false
}

impl AsyncRead for HeadDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.deadline.is_some() && head_ends(&mut this.matched, &buf.filled()[before..])
                {
                    this.deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head not received in time",
                    )))
                } else {
                    Poll::Pending
                }
            }
            other => other,
        }
    }
}

impl AsyncWrite for HeadDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
