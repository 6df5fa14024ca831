//! The Tauri commands: thin, async, delegating to [`AppState`].

use std::path::PathBuf;

use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::AppError;
use crate::local_video::{CameraChoice, VideoInfo};
use crate::room::JoinInfo;
use crate::settings::Settings;
use crate::state::{self, AppState};

#[tauri::command]
pub async fn join(
    app: AppHandle,
    state: State<'_, AppState>,
    room: String,
    name: String,
) -> Result<JoinInfo, AppError> {
    state.join(&app, room.trim(), name.trim()).await
}

#[tauri::command]
pub async fn leave(state: State<'_, AppState>) -> Result<(), AppError> {
    state.leave().await
}

/// Returns how many peers the line was handed to.
#[tauri::command]
pub async fn send_chat(state: State<'_, AppState>, text: String) -> Result<usize, AppError> {
    state
        .with_room(async |room| room.send_chat(&text).await)
        .await
}

/// Sends a file to every connected peer; returns one transfer id per peer.
#[tauri::command]
pub async fn send_file(
    app: AppHandle,
    state: State<'_, AppState>,
    path: String,
) -> Result<Vec<u64>, AppError> {
    state
        .with_room(async |room| room.send_file(app.clone(), PathBuf::from(&path)).await)
        .await
}

/// Opens the system file picker; `None` when cancelled.
#[tauri::command]
pub async fn pick_file(app: AppHandle) -> Result<Option<String>, AppError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().pick_file(move |picked| {
        let _ = tx.send(picked.and_then(|p| p.into_path().ok()));
    });
    let picked = rx.await.map_err(|e| AppError::Io(e.to_string()))?;
    Ok(picked.map(|p| p.display().to_string()))
}

#[tauri::command]
pub async fn get_settings(app: AppHandle) -> Result<Settings, AppError> {
    state::load_settings(&app)
}

/// Saves the settings (applied on the next join) or refuses them all with every problem.
#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    settings: serde_json::Value,
) -> Result<Settings, AppError> {
    state::save_settings(&app, settings)
}

#[tauri::command]
pub async fn restore_default_settings(app: AppHandle) -> Result<Settings, AppError> {
    state::restore_default_settings(&app)
}

/// Starts sending video from the source in the settings; says which source is in use.
#[tauri::command]
pub async fn start_video(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<VideoInfo, AppError> {
    let settings = state::load_settings(&app)?;
    state
        .with_room(async |room| room.start_video(&settings).await)
        .await
}

#[tauri::command]
pub async fn stop_video(state: State<'_, AppState>) -> Result<(), AppError> {
    state.with_room(async |room| room.stop_video().await).await
}

/// The cameras found (`/dev/video*`), for the settings screen.
#[tauri::command]
pub async fn list_cameras() -> Result<Vec<CameraChoice>, AppError> {
    tokio::task::spawn_blocking(crate::local_video::cameras)
        .await
        .map_err(|e| AppError::Io(e.to_string()))
}

/// The UI's channel for video frames (see [`crate::frames`]); set on every page load.
#[tauri::command]
pub fn set_video_channel(state: State<'_, AppState>, frames: Channel<InvokeResponseBody>) {
    state.frames.set_channel(frames);
}

/// The UI drew a frame of `tile`: the next one may come.
#[tauri::command]
pub fn video_frame_shown(state: State<'_, AppState>, tile: u32) {
    state.frames.ack(tile);
}
