//! Files: reading one to send (as the P2PCF-FILE message of `p2pcf_proto::file`, the same
//! format as `p2pcf join --send-file`) and saving received ones without overwriting anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use p2pcf_proto::file;

use crate::error::AppError;

/// A file ready to send: its encoded message and how much of it is header.
pub struct Outgoing {
    pub name: String,
    pub size: u64,
    pub message: bytes::Bytes,
    pub overhead: u64,
}

/// Reads `path` and encodes it; refuses files above `max` bytes (what peers accept).
pub fn load(path: &Path, max: usize) -> Result<Outgoing, AppError> {
    let data = std::fs::read(path)
        .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let message = file::encode(&name, file::guess_mime(&name), &data);
    if message.len() > max {
        return Err(AppError::Invalid(format!(
            "{name} is too large ({} bytes; peers accept up to {max})",
            data.len()
        )));
    }
    Ok(Outgoing {
        size: data.len() as u64,
        overhead: (message.len() - data.len()) as u64,
        name,
        message: message.into(),
    })
}

/// Creates a new file in `dir` named after `name` (sanitized); `name (1).ext`, … when taken.
pub fn save_unique(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = file::sanitize_file_name(name);
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name.as_str(), ""),
    };
    for n in 0..10_000u32 {
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
        if let Err(e) = out.write_all(data) {
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
