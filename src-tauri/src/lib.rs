//! The P2PCF desktop app (Tauri 2): wiring only. The protocol lives in `p2pcf-client` and
//! `p2pcf-server`; this crate keeps one room and the embedded server in managed state
//! ([`state`]), exposes thin commands ([`commands`]) and sends everything to the UI on one event
//! channel ([`events`]). Settings rules are pure and unit-tested ([`settings`]).
//!
//! The Tauri configuration is the repository's top-level `tauri.conf.json` (read through the
//! symlink `src-tauri/tauri.conf.json`; paths in it are relative to `src-tauri/`).

pub mod commands;
pub mod error;
pub mod events;
mod files;
pub mod room;
pub mod server;
pub mod settings;
pub mod state;

use tauri::{DragDropEvent, Manager, RunEvent, WindowEvent};
use tracing_subscriber::EnvFilter;

/// Log filter unless `RUST_LOG` says otherwise (webrtc-rs warns about routine events).
const DEFAULT_LOG_FILTER: &str = "info,webrtc=error,webrtc_ice=error,webrtc_sctp=error,\
webrtc_dtls=error,webrtc_srtp=error,webrtc_data=error,webrtc_mdns=error,webrtc_util=error";

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
