//! The Tauri configuration lives at the repository top (`../tauri.conf.json`, as the design card
//! lays out the tree); tell tauri-build where it is.
fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("tauri-build failed (see ../tauri.conf.json)");
}
