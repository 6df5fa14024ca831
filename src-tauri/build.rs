//! The Tauri configuration is the repository's top-level `tauri.conf.json` (the design card's
//! layout); `src-tauri/tauri.conf.json` is a symlink to it, so tauri-build, `generate_context!`
//! and the Tauri CLI all read it from here, and its paths are relative to `src-tauri/`.
fn main() {
    tauri_build::build();
}
