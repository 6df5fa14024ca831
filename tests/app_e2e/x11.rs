//! Closing an app window the way a window manager's close button does: an X11 `ClientMessage`
//! `WM_PROTOCOLS`/`WM_DELETE_WINDOW` sent to the app's top-level window. GTK turns it into
//! `delete-event`, Tauri into `CloseRequested`, and the app runs its normal exit path.
//!
//! (WebDriver's "Close Window" is not that path: in WebKitGTK it only destroys the web view, and
//! Xvfb has no window manager to press a close button on.) Spoken here as raw X11 protocol over
//! the display's Unix socket, a handful of requests, so no extra package is needed.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{bail, Context};

const ATOM_CARDINAL: u32 = 6;
const MAP_STATE_VIEWABLE: u8 = 2;

struct Conn {
    stream: UnixStream,
    root: u32,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl Conn {
    fn open(display: &str) -> anyhow::Result<Self> {
        let number = display
            .trim_start_matches(':')
            .split('.')
            .next()
            .unwrap_or_default();
        let path = format!("/tmp/.X11-unix/X{number}");
        let mut stream = UnixStream::connect(&path).with_context(|| path.clone())?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        // Little-endian, protocol 11.0, no authorization (Xvfb without -auth accepts local
        // clients).
        stream.write_all(&[b'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0])?;
        let mut head = [0u8; 8];
        stream.read_exact(&mut head)?;
        let extra = usize::from(u16::from_le_bytes([head[6], head[7]])) * 4;
        let mut setup = vec![0u8; extra];
        stream.read_exact(&mut setup)?;
        if head[0] != 1 {
            bail!(
                "X server refused the connection: {}",
                String::from_utf8_lossy(&setup)
            );
        }
        let vendor_len = usize::from(u16::from_le_bytes([setup[16], setup[17]]));
        let formats = usize::from(setup[21]);
        let screen = 32 + vendor_len + pad4(vendor_len) + 8 * formats;
        let root = u32_at(&setup, screen)?;
        Ok(Self { stream, root })
    }

    /// Sends one request and, when it has one, reads its reply (skipping events).
    fn request(&mut self, bytes: &[u8], has_reply: bool) -> anyhow::Result<Vec<u8>> {
        self.stream.write_all(bytes)?;
        if !has_reply {
            return Ok(Vec::new());
        }
        loop {
            let mut reply = vec![0u8; 32];
            self.stream.read_exact(&mut reply)?;
            match reply[0] {
                0 => bail!("X error {} for request {}", reply[1], bytes[0]),
                1 => {
                    let extra = u32_at(&reply, 4)? as usize * 4;
                    let mut more = vec![0u8; extra];
                    self.stream.read_exact(&mut more)?;
                    reply.extend(more);
                    return Ok(reply);
                }
                _ => continue, // an event: not ours to handle
            }
        }
    }

    fn intern_atom(&mut self, name: &str) -> anyhow::Result<u32> {
        let n = name.len();
        let len = 2 + (n + pad4(n)) / 4;
        let mut req = vec![16, 0];
        req.extend((len as u16).to_le_bytes());
        req.extend((n as u16).to_le_bytes());
        req.extend([0, 0]);
        req.extend(name.as_bytes());
        req.extend(vec![0; pad4(n)]);
        let reply = self.request(&req, true)?;
        u32_at(&reply, 8)
    }

    fn children(&mut self, window: u32) -> anyhow::Result<Vec<u32>> {
        let mut req = vec![15, 0, 2, 0];
        req.extend(window.to_le_bytes());
        let reply = self.request(&req, true)?;
        let count = usize::from(u16::from_le_bytes([reply[16], reply[17]]));
        (0..count).map(|i| u32_at(&reply, 32 + 4 * i)).collect()
    }

    /// The first 32-bit value of a property, if set.
    fn property_u32(
        &mut self,
        window: u32,
        property: u32,
        kind: u32,
    ) -> anyhow::Result<Option<u32>> {
        let mut req = vec![20, 0, 6, 0];
        for v in [window, property, kind, 0, 1] {
            req.extend(v.to_le_bytes());
        }
        let reply = self.request(&req, true)?;
        let values = u32_at(&reply, 16)?;
        if reply[1] != 32 || values == 0 {
            return Ok(None);
        }
        Ok(Some(u32_at(&reply, 32)?))
    }

    fn viewable(&mut self, window: u32) -> anyhow::Result<bool> {
        let mut req = vec![3, 0, 2, 0];
        req.extend(window.to_le_bytes());
        let reply = self.request(&req, true)?;
        Ok(reply[26] == MAP_STATE_VIEWABLE)
    }

    fn send_delete_window(
        &mut self,
        window: u32,
        protocols: u32,
        delete: u32,
    ) -> anyhow::Result<()> {
        let mut req = vec![25, 0, 11, 0];
        req.extend(window.to_le_bytes());
        req.extend(0u32.to_le_bytes()); // event mask 0: to the window's owner
                                        // ClientMessage, format 32: [WM_DELETE_WINDOW, CurrentTime, 0, 0, 0].
        req.extend([33, 32, 0, 0]);
        req.extend(window.to_le_bytes());
        req.extend(protocols.to_le_bytes());
        for v in [delete, 0, 0, 0, 0] {
            req.extend(v.to_le_bytes());
        }
        self.request(&req, false)?;
        // A round trip (GetInputFocus) so the event is delivered and errors surface.
        self.request(&[43, 0, 1, 0], true)?;
        Ok(())
    }
}

fn u32_at(bytes: &[u8], at: usize) -> anyhow::Result<u32> {
    let slice = bytes
        .get(at..at + 4)
        .with_context(|| format!("short X reply ({} bytes, wanted {at}..)", bytes.len()))?;
    Ok(u32::from_le_bytes([slice[0], slice[1], slice[2], slice[3]]))
}

/// Asks every visible top-level window of process `pid` on `display` to close, as a window
/// manager's close button would. Returns how many windows were asked.
pub fn close_windows_of(display: &str, pid: u32) -> anyhow::Result<usize> {
    let mut x = Conn::open(display)?;
    let net_wm_pid = x.intern_atom("_NET_WM_PID")?;
    let protocols = x.intern_atom("WM_PROTOCOLS")?;
    let delete = x.intern_atom("WM_DELETE_WINDOW")?;
    let root = x.root;
    let mut asked = 0;
    // Without a window manager, top-level windows are the root's children.
    for window in x.children(root)? {
        if x.property_u32(window, net_wm_pid, ATOM_CARDINAL)? == Some(pid) && x.viewable(window)? {
            x.send_delete_window(window, protocols, delete)?;
            asked += 1;
        }
    }
    Ok(asked)
}
