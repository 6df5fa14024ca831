//! Files between peers, shared by `p2pcf join` and the desktop app, which exchange them in the
//! [`p2pcf_proto::file`] format: [`OutgoingFile`] (a file encoded for sending) and
//! [`save_unique`] (the one place that decides where a file from a peer lands).

use std::io::Write;
use std::path::{Path, PathBuf};

use p2pcf_proto::file;

/// A file encoded as one P2PCF file message, ready to send to any number of peers.
#[derive(Debug, Clone)]
pub struct OutgoingFile {
    /// The file name sent to peers.
    pub name: String,
    /// File bytes (without the message header).
    pub size: u64,
    /// Hex SHA-256 of the file bytes.
    pub sha256: String,
    /// The whole message.
    pub message: bytes::Bytes,
    /// Bytes of the message before the file data.
    pub overhead: u64,
}

impl OutgoingFile {
    /// Encodes `data` under `name` (MIME type guessed from the name).
    pub fn encode(name: String, data: &[u8]) -> Self {
        // One hash of the data, for the header and for reporting.
        let header = file::FileHeader {
            mime: file::guess_mime(&name).map(str::to_owned),
            size: data.len() as u64,
            sha256: file::sha256_hex(data),
            name,
        };
        let message = file::encode_with_header(&header, data);
        OutgoingFile {
            size: header.size,
            overhead: (message.len() - data.len()) as u64,
            message: message.into(),
            sha256: header.sha256,
            name: header.name,
        }
    }

    /// File bytes among the first `sent` message bytes handed over (for progress in file bytes).
    pub fn file_bytes_sent(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.overhead).min(self.size)
    }
}

/// Give up after this many `name (n).ext` candidates.
const MAX_SUFFIX: u32 = 10_000;

/// Creates a new file in `dir` (created if missing) named after `name` (sanitized: no path
/// separators, no `..`) and writes `data` to it. An existing file is never replaced:
/// `name (1).ext`, `name (2).ext`, … are tried instead. A failed write leaves no file behind.
pub fn save_unique(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = file::sanitize_file_name(name);
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name.as_str(), ""),
    };
    for n in 0..=MAX_SUFFIX {
        let candidate = if n == 0 {
            dir.join(&name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        let mut out = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        if let Err(e) = out.write_all(data).and_then(|()| out.sync_all()) {
            drop(out);
            let _ = std::fs::remove_file(&candidate);
            return Err(e);
        }
        return Ok(candidate);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("too many files named like {name}"),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("p2pcf-client-files-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn saving_never_overwrites_and_adds_a_suffix() {
        let dir = temp_dir();
        let first = save_unique(&dir, "report.pdf", b"one").unwrap();
        let second = save_unique(&dir, "report.pdf", b"two").unwrap();
        let third = save_unique(&dir, "sub/report.pdf", b"three").unwrap();
        let plain = save_unique(&dir, "README", b"r").unwrap();
        let plain2 = save_unique(&dir, "README", b"r2").unwrap();
        assert_eq!(first, dir.join("report.pdf"));
        assert_eq!(second, dir.join("report (1).pdf"));
        assert_eq!(third, dir.join("report (2).pdf"));
        assert_eq!(plain2, dir.join("README (1)"));
        assert_eq!(std::fs::read(&first).unwrap(), b"one");
        assert_eq!(std::fs::read(&second).unwrap(), b"two");
        assert_eq!(std::fs::read(&plain).unwrap(), b"r");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hostile_names_stay_inside_the_directory() {
        let dir = temp_dir();
        for name in ["../escape.txt", "/etc/passwd", "..", "a\\..\\..\\b.txt", ""] {
            let path = save_unique(&dir, name, b"x").unwrap();
            assert_eq!(path.parent(), Some(dir.as_path()), "{name:?} -> {path:?}");
        }
        assert!(!dir.parent().unwrap().join("escape.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
