//! Files: reading one to send (as the P2PCF-FILE message of `p2pcf_proto::file`, the same
//! format as `p2pcf join --send-file`) and saving received ones without overwriting anything.

use std::path::Path;

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

pub use p2pcf_client::files::save_unique;
