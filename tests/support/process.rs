//! Stopping a child together with everything it started.

use std::process::Stdio;

/// Sends SIGKILL to every process in group `pgid` (a child spawned with `process_group(0)`, so
/// grandchildren such as miniflare's `workerd` or haproxy's workers go with it).
pub fn kill_process_group(pgid: u32) {
    // `kill` the utility: the workspace forbids unsafe code (no libc::killpg).
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
