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
//!
//! # PeerJS endpoint (npm `peer` 1.0.2, same wire)
//!
//! With [`PeerJsConfig::enabled`] (the default), [`router`] also serves PeerJS under
//! `config.peerjs.path` (default `/peerjs`): `GET {path}` (JSON), `GET {path}{key}/id`,
//! `GET {path}{key}/peers`, the WebSocket at `{path}peerjs?key=&id=&token=`, CORS as the official
//! server (`cors({origin: true})`). The protocol is [`peerjs::realm::Realm`], a sans-IO state
//! machine; [`peerjs::Hub`] is the shell around it. Deliberate differences from the official
//! server:
//!
//! 1. **`OPEN` on a same-token re-attach** (the official server re-attaches silently, so a
//!    client whose old socket is half-open never gets `open` after `reconnect()`); the old
//!    socket is closed and the id's liveness restarts.
//! 2. **Bounded offline queues**: per destination (`queue_max_messages_per_peer` 128,
//!    `queue_max_bytes_per_peer` 256 KiB), per sender (`queue_max_messages_per_sender` 512,
//!    `queue_max_bytes_per_sender` 1 MiB) and in total (`queue_max_bytes_total` 64 MiB). A
//!    refused message is dropped and its sender gets `EXPIRE` for that destination at once,
//!    unless an earlier message of the same pair is queued (then the `EXPIRE` comes on expiry).
//!    The official queues are unbounded.
//! 3. **Frame size limit**: WebSocket messages over `max_frame_bytes` (64 KiB) close that socket
//!    with 1009 (official: 100 MiB, `ws`'s default).
//! 4. **Concurrent limit** 200 000 ids by default (official 5000), same `ERROR` text and close.
//! 5. **Invalid frames never wedge or close a socket**: non-JSON, non-objects, unknown types,
//!    a `dst` that is not a string are ignored and the socket keeps working (the official CLI
//!    wedges the socket on invalid JSON; an embedding without an `error` listener crashes). A
//!    `dst` that is a number, `true` or an object is dropped (the official server queues it
//!    under that value and later sends an `EXPIRE` whose `src` is not a string).
//! 6. **Ids the client would reject are refused**: an id not matching the client's
//!    `/^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/` or longer than 256 bytes gets `ERROR`
//!    "Invalid id provided" and a close; a token over 256 bytes gets "Invalid token provided".
//! 7. **Short ids** as an option (`ids = "short"`, `--peerjs-ids short`): 8 Crockford Base32
//!    characters, 40 random bits; the default is a UUID v4 like `crypto.randomUUID()`.
//! 8. **`LEAVE` without `dst`** deregisters the sender and closes its socket; that socket never
//!    speaks for the id again, so a later holder of the id is not deregistered when it closes
//!    (the official server leaves the socket open, still relaying as that id, and deregisters
//!    the new holder when the old socket closes).
//! 9. **Client-sent `LEAVE`/`EXPIRE` with a `dst` are relayed, as upstream.** This is kept on
//!    purpose: `src` is always overwritten with the sender's own id, so a client can only say
//!    "I am leaving / unavailable" about itself (the recipient closes its connections to the
//!    sender, or reports the sender as unavailable) — never about a third peer.
//! 10. **Dead sockets**: relaying to a socket that is gone or has `socket_send_queue` (256)
//!     frames unwritten closes it and answers `LEAVE` to the sender (the official server does
//!     this only when `send` throws). The socket is deregistered at once.
//! 11. **Expiry precision**: `EXPIRE` is sent `expire_timeout` after the queue was created,
//!     checked every 100 ms (official: every 1000 ms, so 5.0–6.0 s).
//! 12. **Payload bytes**: `payload` is forwarded as the client sent it, minus insignificant
//!     whitespace (the official server re-serialises it: number spellings like `1.0` → `1`,
//!     escapes like `\u0041` → `A` and duplicate keys are normalised there, kept here).
//! 13. **HTTP details**: no `X-Powered-By` and no `ETag` headers.
//! 14. **Stalled connections**: every connection must send its first request head within
//!     `request_head_timeout_ms` (10 s), so upgrades that never finish do not hold resources
//!     (the official server has no such timeout). Graceful shutdown closes sockets with 1001.

pub mod config;
mod http;
mod js;
pub mod listener;
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
