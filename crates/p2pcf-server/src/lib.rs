//! The P2PCF signalling server: the Cloudflare worker of `p2pcf@1.3.14` (`src/worker.js`)
//! reimplemented over HTTP with axum, wire-compatible, with pluggable stores.
//!
//! ```no_run
//! # async fn run() -> Result<(), p2pcf_server::ServerError> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8787").await?;
//! let config = p2pcf_server::ServerConfig::default();
//! p2pcf_server::serve(listener, config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Layout: [`request`] validates bodies in the worker's order with its texts; [`room`] holds the
//! room operations as pure functions of `now_ms`; [`store`] keeps rooms behind the [`Store`]
//! trait ([`MemoryStore`], [`FileStore`]); `http` is the axum shell ([`router`]); [`serve`] adds
//! the vacuum task and graceful shutdown.
//!
//! # Deliberate differences from worker.js
//!
//! Same wire, same status codes and texts for every request the worker answers deliberately.
//! Differences:
//!
//! 1. **No 500s.** Where the worker throws (HTTP 500), we answer 400 with the text of the check
//!    that should have caught it:
//!    - body not JSON, empty, or the JSON `null` → treated as an object with no fields
//!      (`Bad room idundefined`, or `Missing delete key` on leave); a UTF-8 BOM is skipped as
//!      `request.json()` does;
//!    - `r` a number, `true`, an object, or an array of 4..=64 items → `Bad room id` + `String(r)`;
//!    - `d` an object (not an array) → `Bad data length`;
//!    - `d[5]` an object that is not an array, or holding a non-string → `Bad reflexive IPs`;
//!    - leave with `dk` but without `d` in a non-empty room → 404 `No delete key`.
//! 2. **Stricter types where the worker wrongly accepts** (same texts as the worker's own check):
//!    `k`, `d[0]`, `d[1]` must be strings (`Bad context id`, `Bad session id`, `Bad client id`;
//!    the worker accepts e.g. numbers or short arrays because they have no `.length > 64`);
//!    an empty-string reflexive IP is refused (`Bad reflexive IPs`; the worker's `find` returns
//!    the falsy `""` and lets it pass).
//! 3. **Packages**: a package is delivered when it is an array whose item 0 is the caller's
//!    session id string. The worker also "delivers" characters of a string package or an object
//!    with key `"0"`, and a `null` package makes every later poll of that room fail with 500;
//!    here such packages are stored but never delivered. A non-array truthy `p` publishes the
//!    entry with no packages.
//! 4. **Content type**: besides `application/json` (trimmed), we accept any letter case and a
//!    `charset=utf-8` parameter.
//! 5. **Expiry**: an entry whose expiry has passed is never answered (the worker shows it until a
//!    vacuum runs, up to ~40 s later) and a publish treats it as absent (new delete key, first
//!    free slot). A negative `x` (accepted by both) therefore publishes an invisible entry.
//! 6. **Atomic rooms**: concurrent publishes never lose an entry and one context id has one
//!    entry (the worker's read-modify-write over R2 can lose or duplicate entries).
//! 7. **Origin quota**: counted exactly, every request (the worker samples 1 in 100 and adds
//!    100); the month is the UTC calendar month. `allowed_origins` are compared exactly, but the
//!    CLI trims whitespace around the comma-separated items (the worker does not).
//! 8. **Limits**: bodies over `max_body_bytes` → 413 `Payload too large` (with CORS headers);
//!    JSON nested deeper than 128 levels, numbers beyond the f64 range, invalid UTF-8 or lone
//!    surrogate escapes fail to parse, so the request is treated as having no fields (400).
//! 9. **JSON output**: numbers are written as JavaScript does (`1.0` → `1`, `1e21` → `1e+21`);
//!    object keys inside packages come out sorted (the worker keeps insertion order, with
//!    integer-like keys first).
//! 10. **Health page**: always says storage is configured (there is always a store).
//! 11. **Operations**: `GET /healthz` answers `ok` (200) only while the store answers, else 503;
//!     `GET /metrics` (when `ServerConfig::metrics` is set) answers Prometheus text. Any other
//!     method on these paths, and every other path, is the worker's. When the store fails
//!     (Redis unreachable) a request gets 503 `Service unavailable: the room store cannot be
//!     reached, retry later` (the worker would throw a 500).

pub mod config;
mod http;
pub mod listener;
mod js;
mod month;
pub mod ops;
pub mod peerjs;
pub mod request;
pub mod room;
pub mod store;
pub mod watch;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use config::{ServerConfig, StoreConfig, DEFAULT_ORIGIN_QUOTA};
pub use http::{router, AppState};
pub use month::month_key;
pub use peerjs::{PeerIdStyle, PeerJsConfig};
pub use store::{
    FileStore, MemoryStore, RedisOptions, RedisStore, Store, StoreError, VacuumReport,
};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened or flushed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Accepting connections failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the worker protocol on `listener` until `shutdown` completes, then finishes in-flight
/// requests, stops the vacuum task and flushes the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let vacuum_every = Duration::from_millis(config.vacuum_interval_ms.max(1));
    let head_timeout = Duration::from_millis(config.request_head_timeout_ms.max(1));
    let state = AppState::new(config)?;
    let store = state.store().clone();
    if let Err(e) = store.check().await {
        tracing::warn!(error = %e, "the store does not answer yet; requests get 503 until it does");
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);

    let vacuum_store = store.clone();
    let vacuum_state = state.clone();
    let vacuum = tokio::spawn(async move {
        let mut tick = tokio::time::interval(vacuum_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_rx.changed() => break,
            }
            vacuum_state.prune_idle_watches();
            match vacuum_store.vacuum(wall_clock_ms()).await {
                Ok(report) if report.entries + report.rooms > 0 => {
                    tracing::debug!(entries = report.entries, rooms = report.rooms, "vacuumed");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "vacuum failed"),
            }
        }
    });

    if let Ok(addr) = listener.local_addr() {
        tracing::debug!(%addr, "serving");
    }
    let held_polls = state.clone();
    let peerjs = state.peerjs().cloned();
    let listener = listener::TimedListener::new(listener, head_timeout);
    let result = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            held_polls.release_waiting_polls();
        })
        .await;
    if let Some(hub) = peerjs {
        // Upgraded sockets are not connections axum waits for: close them with 1001.
        hub.shut_down(Duration::from_secs(5)).await;
    }
    let _ = stop_tx.send(true);
    let _ = vacuum.await;
    store.flush().await?;
    tracing::info!("server stopped");
    result.map_err(ServerError::from)
}

fn wall_clock_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}
