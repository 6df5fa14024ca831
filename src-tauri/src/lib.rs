//! The P2PCF desktop app (Tauri 2): wiring only. The protocol lives in `p2pcf-client` and
//! `p2pcf-server`; this crate keeps one room and the embedded server in managed state
//! ([`state`]), exposes thin commands ([`commands`]) and sends everything to the UI on one event
//! channel ([`events`]). Settings rules are pure and unit-tested ([`settings`]).
//!
//! Video: "Enable Video" encodes the source chosen in the settings ([`local_video`]) onto a
//! track the client shares; each peer's track is decoded in [`remote_video`]; decoded frames go
//! to the UI as raw RGBA over a `tauri::ipc::Channel` with flow control ([`frames`]).
//!
//! The Tauri configuration is the repository's top-level `tauri.conf.json` (read through the
//! symlink `src-tauri/tauri.conf.json`; paths in it are relative to `src-tauri/`).

mod camera_thread;
pub mod commands;
pub mod error;
pub mod events;
mod files;
pub mod frames;
pub mod local_video;
pub mod remote_video;
pub mod room;
pub mod server;
pub mod settings;
pub mod state;
pub mod video_settings;

use tauri::{DragDropEvent, Manager, RunEvent, WindowEvent};
use tracing_subscriber::EnvFilter;

/// Log filter unless `RUST_LOG` says otherwise (webrtc-rs warns about routine events).
const DEFAULT_LOG_FILTER: &str = "info,webrtc=error,rtc=error,rtc_ice=error,rtc_sctp=error,\
rtc_dtls=error,rtc_srtp=error,rtc_datachannel=error,rtc_mdns=error,rtc_interceptor=error";

/// Starts the app; returns when the last window closed and the room was left.
pub fn run() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .manage(state::AppState::default())
        .invoke_handler(tauri::generate_handler![
            commands::join,
            commands::leave,
            commands::send_chat,
            commands::send_file,
            commands::pick_file,
            commands::get_settings,
            commands::save_settings,
            commands::restore_default_settings,
            commands::start_video,
            commands::stop_video,
            commands::list_cameras,
            commands::set_video_channel,
            commands::video_frame_shown,
        ])
        .on_window_event(|window, event| {
            if let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                let paths = paths.iter().map(|p| p.display().to_string()).collect();
                events::emit(
                    window.app_handle(),
                    events::AppEvent::FilesDropped { paths },
                );
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the app");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            let state = handle.state::<state::AppState>();
            tauri::async_runtime::block_on(state.shutdown());
        }
    });
}
