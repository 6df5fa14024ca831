//! Files: reading one to send (as the P2PCF-FILE message of `p2pcf_proto::file`, the same
//! format as `p2pcf join --send-file`) and saving received ones without overwriting anything.

use std::path::Path;

use crate::error::AppError;

pub use p2pcf_client::files::OutgoingFile as Outgoing;

/// Reads `path` and encodes it; refuses files above `max` bytes (what peers accept).
pub fn load(path: &Path, max: usize) -> Result<Outgoing, AppError> {
    let data = std::fs::read(path)
        .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let outgoing = Outgoing::encode(name, &data);
    if outgoing.message.len() > max {
        return Err(AppError::Invalid(format!(
            "{} is too large ({} bytes; peers accept up to {max})",
            outgoing.name,
            data.len()
        )));
    }
    Ok(outgoing)
}

pub use p2pcf_client::files::save_unique;
