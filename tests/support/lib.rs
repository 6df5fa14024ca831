//! Shared helpers for the integration tests: start our server, the real worker.js under miniflare,
//! and unmodified P2PCF pages in Chromium.
pub mod browser;
pub mod client;
pub mod server;
pub mod worker;
