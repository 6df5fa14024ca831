//! What the app keeps between commands: the joined room, the embedded server, and the settings
//! in tauri-plugin-store.

use std::path::PathBuf;
use std::time::Duration;

use tauri::{AppHandle, Manager};
use tauri_plugin_store::StoreExt;
use tokio::sync::Mutex;

use crate::error::AppError;
use crate::frames::FrameSink;
use crate::room::{JoinInfo, Room};
use crate::server::EmbeddedServer;
use crate::settings::{check_join_field, Settings, SignallingMode};

/// The settings file, inside the app data directory (`$XDG_DATA_HOME/dev.p2pcf.desktop/`).
const STORE_FILE: &str = "settings.json";
const SETTINGS_KEY: &str = "settings";

/// Managed state: one room at a time, the embedded server while it is needed, and where video
/// frames go to the UI.
#[derive(Default)]
pub struct AppState {
    room: Mutex<Option<Room>>,
    server: Mutex<Option<EmbeddedServer>>,
    pub frames: FrameSink,
}

impl AppState {
    pub async fn join(
        &self,
        app: &AppHandle,
        room: &str,
        name: &str,
    ) -> Result<JoinInfo, AppError> {
        check_join_field("room id", room).map_err(AppError::Invalid)?;
        check_join_field("display name", name).map_err(AppError::Invalid)?;
        let mut current = self.room.lock().await;
        if let Some(old) = current.take() {
            old.leave().await;
        }
        let settings = load_settings(app)?;
        let (worker_url, lan_url, peerjs_lan) = match settings.signalling {
            SignallingMode::Worker => (settings.worker_url.clone(), None, None),
            SignallingMode::Embedded => self.ensure_server(settings.port, settings.lan).await?,
        };
        let config = settings
            .client_config(&worker_url)
            .validate()
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let (joined, session_id) = Room::join(
            app.clone(),
            room,
            name,
            config,
            download_dir(app, &settings),
            self.frames.clone(),
        )
        .await?;
        *current = Some(joined);
        Ok(JoinInfo {
            room: room.to_owned(),
            name: name.to_owned(),
            session_id: session_id.to_string(),
            worker_url,
            lan_url,
            peerjs_lan,
        })
    }

    /// Starts (or keeps, or restarts with new settings) the embedded server; returns its URL,
    /// the LAN URL and the PeerJS options for the LAN.
    async fn ensure_server(
        &self,
        port: u16,
        lan: bool,
    ) -> Result<(String, Option<String>, Option<String>), AppError> {
        let mut server = self.server.lock().await;
        if let Some(running) = server.as_ref() {
            if running.port == port && running.lan == lan {
                return Ok((
                    running.url.clone(),
                    running.lan_url.clone(),
                    running.peerjs_lan.clone(),
                ));
            }
        }
        if let Some(old) = server.take() {
            old.stop().await;
        }
        let started = EmbeddedServer::start(port, lan).await?;
        let urls = (
            started.url.clone(),
            started.lan_url.clone(),
            started.peerjs_lan.clone(),
        );
        if !started.owned() {
            tracing::info!("using the P2PCF server of another process on port {port}");
        }
        *server = Some(started);
        Ok(urls)
    }

    pub async fn leave(&self) -> Result<(), AppError> {
        let room = self.room.lock().await.take().ok_or(AppError::NotJoined)?;
        room.leave().await;
        Ok(())
    }

    pub async fn with_room<T>(
        &self,
        f: impl AsyncFnOnce(&Room) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let room = self.room.lock().await;
        let room = room.as_ref().ok_or(AppError::NotJoined)?;
        f(room).await
    }

    /// On exit: leave the room (peers see us go), then stop our server.
    pub async fn shutdown(&self) {
        let work = async {
            if let Some(room) = self.room.lock().await.take() {
                room.leave().await;
            }
            if let Some(server) = self.server.lock().await.take() {
                server.stop().await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), work)
            .await
            .is_err()
        {
            tracing::warn!("shutdown took longer than 5 s");
        }
    }
}

/// The saved settings, or the defaults. A stored value that no longer parses or validates is
/// reported, not silently replaced.
pub fn load_settings(app: &AppHandle) -> Result<Settings, AppError> {
    let store = app.store(STORE_FILE)?;
    match store.get(SETTINGS_KEY) {
        None => Ok(Settings::default()),
        Some(value) => {
            let settings: Settings = serde_json::from_value(value)
                .map_err(|e| AppError::Io(format!("stored settings are unreadable: {e}")))?;
            settings.validate().map_err(AppError::InvalidSettings)
        }
    }
}

/// Validates the whole object, then saves it; nothing is written when any field is refused.
pub fn save_settings(app: &AppHandle, value: serde_json::Value) -> Result<Settings, AppError> {
    let settings: Settings = serde_json::from_value(value).map_err(|e| {
        AppError::InvalidSettings(vec![crate::settings::FieldError {
            field: "settings".into(),
            message: e.to_string(),
        }])
    })?;
    let settings = settings.validate().map_err(AppError::InvalidSettings)?;
    let store = app.store(STORE_FILE)?;
    let json = serde_json::to_value(&settings).map_err(|e| AppError::Io(e.to_string()))?;
    store.set(SETTINGS_KEY, json);
    store.save()?;
    Ok(settings)
}

pub fn restore_default_settings(app: &AppHandle) -> Result<Settings, AppError> {
    let store = app.store(STORE_FILE)?;
    store.delete(SETTINGS_KEY);
    store.save()?;
    Ok(Settings::default())
}

fn download_dir(app: &AppHandle, settings: &Settings) -> PathBuf {
    if !settings.download_dir.is_empty() {
        return PathBuf::from(&settings.download_dir);
    }
    app.path()
        .download_dir()
        .or_else(|_| app.path().home_dir().map(|h| h.join("Downloads")))
        .unwrap_or_else(|_| std::env::temp_dir())
}
