//! The error every command returns. Serialized for the UI as
//! `{"kind": "...", "message": "...", "fields": [...]}`.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::settings::FieldError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input from the UI was refused (room id, name, file).
    #[error("{0}")]
    Invalid(String),
    /// The settings were refused; nothing was saved.
    #[error("settings not saved: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    InvalidSettings(Vec<FieldError>),
    /// The command needs a joined room.
    #[error("not in a room")]
    NotJoined,
    /// The P2PCF client refused or failed.
    #[error("{0}")]
    Client(#[from] p2pcf_client::ClientError),
    /// The embedded signalling server could not start.
    #[error("embedded server: {0}")]
    Server(String),
    /// Reading, writing or the settings store failed.
    #[error("{0}")]
    Io(String),
}

impl AppError {
    fn kind(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid",
            AppError::InvalidSettings(_) => "invalidSettings",
            AppError::NotJoined => "notJoined",
            AppError::Client(_) => "client",
            AppError::Server(_) => "server",
            AppError::Io(_) => "io",
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Io(e.to_string())
    }
}

impl From<tauri_plugin_store::Error> for AppError {
    fn from(e: tauri_plugin_store::Error) -> Self {
        AppError::Io(format!("settings store: {e}"))
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("AppError", 3)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        let fields: &[FieldError] = match self {
            AppError::InvalidSettings(fields) => fields,
            _ => &[],
        };
        s.serialize_field("fields", fields)?;
        s.end()
    }
}
