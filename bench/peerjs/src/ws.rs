//! A minimal WebSocket client for the load generator: the HTTP upgrade, masked text frames out,
//! unmasked frames in. No extensions, no fragmentation (both servers send whole frames), and
//! pings are reported to the caller (neither server pings an active client within a run).

use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Range;

use anyhow::{bail, Context};
use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;

/// Largest server frame accepted (the relay carries ~1 KB frames).
const MAX_FRAME: usize = 1 << 20;

/// TCP connect from `src` (several 127.0.0.x sources pass the ephemeral-port limit of one) and
/// the upgrade to `target` (path and query). Returns the stream and a reader holding any frame
/// bytes that arrived with the 101 response.
pub async fn connect(
    src: Ipv4Addr,
    server: SocketAddr,
    target: &str,
) -> anyhow::Result<(TcpStream, FrameReader)> {
    let socket = TcpSocket::new_v4().context("socket")?;
    socket
        .bind(SocketAddr::new(src.into(), 0))
        .with_context(|| format!("bind {src}"))?;
    let mut stream = socket.connect(server).await.context("connect")?;
    stream.set_nodelay(true).context("nodelay")?;
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .context("send upgrade")?;
    let mut reader = FrameReader::new();
    let head_end = loop {
        if let Some(pos) = find(&reader.buf, b"\r\n\r\n") {
            break pos + 4;
        }
        if reader.buf.len() > 16 * 1024 {
            bail!("upgrade response headers too long");
        }
        if reader.fill(&mut stream).await? == 0 {
            bail!("closed during upgrade");
        }
    };
    let status = String::from_utf8_lossy(&reader.buf[..head_end]);
    let first = status.lines().next().unwrap_or_default().to_string();
    if !first.starts_with("HTTP/1.1 101") {
        bail!("upgrade refused: {first}");
    }
    reader.start = head_end;
    Ok((stream, reader))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Appends one masked text frame carrying `payload` to `out`.
pub fn encode_text(out: &mut Vec<u8>, payload: &[u8]) {
    out.push(0x80 | OP_TEXT);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask: [u8; 4] = rand::random();
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// Buffered reader of server frames.
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(4096),
            start: 0,
        }
    }

    /// Reads more bytes; 0 means the peer closed the connection.
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> anyhow::Result<usize> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        let n = r.read_buf(&mut self.buf).await.context("read")?;
        Ok(n)
    }

    /// The next complete frame in the buffer, as (opcode, payload range); `None` if more bytes
    /// are needed. The range is valid until the next `fill`.
    pub fn next_frame(&mut self) -> anyhow::Result<Option<(u8, Range<usize>)>> {
        let b = &self.buf[self.start..];
        if b.len() < 2 {
            return Ok(None);
        }
        if b[0] & 0x80 == 0 {
            bail!("fragmented server frame (opcode {})", b[0] & 0x0f);
        }
        if b[1] & 0x80 != 0 {
            bail!("masked server frame");
        }
        let opcode = b[0] & 0x0f;
        let (len, header) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&b[2..10]);
                (usize::try_from(u64::from_be_bytes(len))?, 10)
            }
            126 | 127 => return Ok(None),
            n => (n as usize, 2),
        };
        if len > MAX_FRAME {
            bail!("server frame of {len} bytes");
        }
        if b.len() < header + len {
            return Ok(None);
        }
        let begin = self.start + header;
        self.start = begin + len;
        Ok(Some((opcode, begin..begin + len)))
    }

    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Reads until the next text (or binary) frame and returns its payload; a close frame is an
    /// error carrying its reason.
    pub async fn next_text<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> anyhow::Result<Vec<u8>> {
        loop {
            while let Some((op, range)) = self.next_frame()? {
                match op {
                    OP_TEXT | OP_BINARY => return Ok(self.bytes(range).to_vec()),
                    OP_CLOSE => {
                        let reason = String::from_utf8_lossy(self.bytes(range)).into_owned();
                        bail!("server closed the WebSocket ({reason:?})");
                    }
                    _ => {}
                }
            }
            if self.fill(r).await? == 0 {
                bail!("connection closed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frames_split_anywhere() -> anyhow::Result<()> {
        let mut wire = vec![0x81, 5];
        wire.extend_from_slice(b"hello");
        wire.extend_from_slice(&[0x81, 126, 0x01, 0x00]);
        wire.extend(std::iter::repeat_n(b'x', 256));
        for split in 0..wire.len() {
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            r.buf.extend_from_slice(&wire[..split]);
            while let Some((_, range)) = r.next_frame()? {
                got.push(r.bytes(range).len());
            }
            r.buf.extend_from_slice(&wire[split..]);
            while let Some((_, range)) = r.next_frame()? {
                got.push(r.bytes(range).len());
            }
            assert_eq!(got, vec![5, 256], "split at {split}");
        }
        Ok(())
    }

    #[test]
    fn encodes_masked_frames() {
        let mut out = Vec::new();
        encode_text(&mut out, &[7u8; 300]);
        assert_eq!(out[0], 0x81);
        assert_eq!(out[1], 0x80 | 126);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 300);
        let mask = [out[4], out[5], out[6], out[7]];
        let unmasked: Vec<u8> = out[8..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i & 3])
            .collect();
        assert_eq!(unmasked, vec![7u8; 300]);
    }
}
