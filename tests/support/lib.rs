//! Shared helpers for the integration tests: start our server, the real worker.js under miniflare,
//! and unmodified P2PCF pages in Chromium.
pub mod browser;
pub mod client;
pub mod cluster;
pub mod cluster_proxy;
pub mod netns;
pub mod peerjs_browser;
pub mod peerjs_server;
pub mod peerjs_ws;
pub mod process;
pub mod server;
pub mod worker;

/// Logs to the test's stderr when `RUST_LOG` is set (e.g. `RUST_LOG=p2pcf_client=debug`);
/// safe to call from every test.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
