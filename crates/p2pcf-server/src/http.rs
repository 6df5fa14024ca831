//! The axum shell: extract, call the room logic, map to the worker's answers.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Router;
use rand::distributions::{Alphanumeric, DistString};

use crate::config::ServerConfig;
use crate::month::month_key;
use crate::ops::{Metrics, StoreOp};
use crate::request::{self, Rejection};
use crate::room::PollOutcome;
use crate::store::{MemoryStore, Store, StoreError};
use crate::watch::{RoomWatch, SINCE_HEADER, VERSION_HEADER, WAIT_HEADER};

const TEXT_PLAIN: &str = "text/plain;charset=UTF-8";
const HEALTH_PAGE: &str = "<html><body style=\"font-size: 24px; padding: 18px; font-family: Arial, sans-serif\"\">Hello from P2PCF<br/><div style=\"line-height: 28px; margin-top: 8px; font-size: 0.8em\">&#128077; R2 bucket is configured properly, ready to serve.</div></body></html>";

/// What the handlers share: the configuration and the store.
#[derive(Clone)]
pub struct AppState {
    config: Arc<ServerConfig>,
    store: Arc<dyn Store>,
    watch: RoomWatch,
    metrics: Arc<Metrics>,
    peerjs: Option<Arc<crate::peerjs::Hub>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over the store named by `config.store` (opening a file store reads its directory).
    pub fn new(config: ServerConfig) -> Result<Self, StoreError> {
        let store: Arc<dyn Store> = match &config.store {
            crate::StoreConfig::Memory => Arc::new(MemoryStore::new()),
            crate::StoreConfig::File { path } => Arc::new(crate::store::FileStore::open(path)?),
            crate::StoreConfig::Redis { url } => Arc::new(crate::store::RedisStore::open(
                url,
                crate::store::RedisOptions::default(),
            )?),
        };
        Ok(Self::with_store(config, store))
    }

    /// State over a store of your own (`config.store` is ignored).
    pub fn with_store(config: ServerConfig, store: Arc<dyn Store>) -> Self {
        let peerjs = config
            .peerjs
            .enabled
            .then(|| crate::peerjs::Hub::new(config.peerjs.clone()));
        Self {
            peerjs,
            config: Arc::new(config),
            watch: RoomWatch::new(store.change_feed()),
            store,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Releases polls held by the long-poll extension (call when shutting down).
    pub fn release_waiting_polls(&self) {
        self.watch.close();
    }

    /// Forgets change counters of rooms nobody is waiting on (run with vacuum).
    pub(crate) fn prune_idle_watches(&self) {
        self.watch.prune();
    }

    /// The store behind this state.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The counters behind `/metrics` (register more series with [`Metrics::register`]).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The PeerJS endpoint's state, when enabled.
    pub fn peerjs(&self) -> Option<&Arc<crate::peerjs::Hub>> {
        self.peerjs.as_ref()
    }

    /// The configuration behind this state.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }
}

/// The worker as an axum router: every path, every method. Vacuum is not started here (see
/// [`crate::serve`]); expired entries are hidden regardless.
pub fn router(state: AppState) -> Router {
    // Other methods on these paths are worker requests like on any path.
    let mut ops = Router::new().route(
        "/healthz",
        axum::routing::get(crate::ops::healthz).fallback(handle),
    );
    if state.config.metrics {
        ops = ops.route(
            "/metrics",
            axum::routing::get(crate::ops::metrics).fallback(handle),
        );
    }
    ops.fallback(handle).with_state(state)
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

async fn handle(State(state): State<AppState>, req: Request) -> Response {
    if let Some(hub) = state.peerjs.as_ref() {
        if crate::peerjs::claims(hub, req.uri().path()) {
            return crate::peerjs::handle(hub.clone(), req).await;
        }
    }
    let method = req.method().clone();
    let label = route_label(&req);
    let response = route(&state, req).await;
    state.metrics.request(label, response.status());
    tracing::debug!(%method, status = response.status().as_u16(), "request");
    response
}

/// The `route` label of `p2pcf_http_requests_total`.
fn route_label(req: &Request) -> &'static str {
    let method = req.method();
    if method == Method::GET {
        "page"
    } else if method == Method::OPTIONS {
        "options"
    } else if method == Method::DELETE
        || header(req.headers(), "x-worker-method").as_deref() == Some("DELETE")
    {
        "leave"
    } else if method == Method::POST {
        "poll"
    } else {
        "other"
    }
}

async fn route(state: &AppState, req: Request) -> Response {
    let now = now_ms();
    if let Some(refused) = origin_policy(state, req.headers(), now).await {
        return refused;
    }
    let method = req.method();
    if method == Method::GET {
        return respond(StatusCode::OK, &[(CONTENT_TYPE, "text/html")], HEALTH_PAGE);
    }
    if method == Method::OPTIONS {
        return options(req.headers());
    }
    if !is_json(req.headers()) {
        return plain(
            StatusCode::BAD_REQUEST,
            "Expected content-type application/json",
        );
    }
    let is_leave = method == Method::DELETE
        || header(req.headers(), "x-worker-method").as_deref() == Some("DELETE");
    if !is_leave && method != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    let wait = long_poll_wait(req.headers());
    let body = match read_body(state, req).await {
        Ok(body) => body,
        Err(too_large) => return too_large,
    };
    let payload = request::parse_body(&body);
    let result = if is_leave {
        leave(state, &payload, now).await
    } else {
        let room = payload.get("r").and_then(|r| r.as_str());
        let now = match (room, wait) {
            (Some(room), Some((since, wait))) => {
                let _held = state.metrics.held_poll();
                if state.watch.hold(room, since, wait).await {
                    now_ms()
                } else {
                    now
                }
            }
            _ => now,
        };
        let local_version = room.and_then(|room| state.watch.local_version(room));
        poll(state, &payload, now)
            .await
            .map(|(mut answer, version)| {
                if let Some(version) = version.or(local_version) {
                    answer
                        .headers_mut()
                        .insert(VERSION_HEADER, HeaderValue::from(version));
                }
                answer
            })
    };
    match result {
        Ok(answer) => answer,
        Err(Failure::Rejected(Rejection(text))) => cors(StatusCode::BAD_REQUEST, text),
        Err(Failure::Store(e)) => {
            tracing::error!(error = %e, "store failure");
            cors(StatusCode::SERVICE_UNAVAILABLE, STORE_UNAVAILABLE.into())
        }
    }
}

enum Failure {
    Rejected(Rejection),
    Store(StoreError),
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        Self::Rejected(r)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

type Payload = serde_json::Map<String, serde_json::Value>;

/// The answer when the store fails (Redis down): 503, retry later.
const STORE_UNAVAILABLE: &str =
    "Service unavailable: the room store cannot be reached, retry later";

/// Times a store operation for `/metrics`.
async fn timed<T>(
    state: &AppState,
    op: StoreOp,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = std::time::Instant::now();
    let result = work.await;
    state.metrics.store(op, started.elapsed(), result.is_ok());
    result
}

/// The poll's answer and the room's version when the store keeps versions.
async fn poll(
    state: &AppState,
    payload: &Payload,
    now: f64,
) -> Result<(Response, Option<u64>), Failure> {
    let req = request::poll_request(payload, now)?;
    let delete_key = match req.packages {
        Some(_) => Alphanumeric.sample_string(&mut rand::thread_rng(), 24),
        None => String::new(),
    };
    let mut outcome = PollOutcome::default();
    let version = timed(
        state,
        StoreOp::Update,
        state.store.update_room_versioned(&req.room, &mut |room| {
            outcome = room.poll(&req, now, &delete_key);
            outcome.changed
        }),
    )
    .await?;
    if outcome.changed {
        state.watch.bump(req.room.as_str());
    }
    if outcome.joined {
        if let Some(peer) = &req.peer {
            tracing::info!(room = %req.room, context = %peer.context_id, "peer joined");
        }
    }
    Ok((cors(StatusCode::OK, outcome.body), version))
}

async fn leave(state: &AppState, payload: &Payload, now: f64) -> Result<Response, Failure> {
    let req = request::leave_request(payload, now)?;
    let mut left = false;
    timed(
        state,
        StoreOp::Update,
        state.store.update_room(&req.room, &mut |room| {
            left = room.leave(&req, now);
            left
        }),
    )
    .await?;
    if !left {
        return Ok(cors(StatusCode::NOT_FOUND, "No delete key".into()));
    }
    state.watch.bump(req.room.as_str());
    if let Some(target) = &req.target {
        tracing::info!(room = %req.room, context = %target.context_id, "peer left");
    }
    Ok(cors(StatusCode::OK, "{}".into()))
}

/// The long-poll extension's headers: `(since, wait)` when both are present and valid.
fn long_poll_wait(headers: &HeaderMap) -> Option<(u64, Duration)> {
    let since = header(headers, SINCE_HEADER)?.parse().ok()?;
    let wait: u64 = header(headers, WAIT_HEADER)?.parse().ok()?;
    Some((since, Duration::from_millis(wait)))
}

/// `getResponseIfDisallowed`, with an exact count of every request.
async fn origin_policy(state: &AppState, headers: &HeaderMap, now: f64) -> Option<Response> {
    let origin = header(headers, "origin")?;
    if origin.is_empty() || state.config.allowed_origins.iter().any(|o| *o == origin) {
        return None;
    }
    let quota = state.config.effective_origin_quota();
    if quota == 0 {
        return Some(plain(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    match timed(
        state,
        StoreOp::Incr,
        state.store.incr_origin_count(&origin, &month_key(now)),
    )
    .await
    {
        Ok(count) if count > quota => Some(plain(StatusCode::TOO_MANY_REQUESTS, "Over quota")),
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "origin counter failed");
            Some(plain(StatusCode::SERVICE_UNAVAILABLE, STORE_UNAVAILABLE))
        }
    }
}

fn options(headers: &HeaderMap) -> Response {
    let requested = header(headers, "access-control-request-headers");
    let preflight = headers.contains_key("origin")
        && headers.contains_key("access-control-request-method")
        && requested.is_some();
    match requested {
        Some(requested) if preflight => {
            let mut response = respond(StatusCode::OK, &CORS[1..], "");
            if let Ok(value) = HeaderValue::from_str(&requested) {
                response
                    .headers_mut()
                    .insert("access-control-allow-headers", value);
            }
            response
        }
        _ => respond(
            StatusCode::OK,
            &[(
                HeaderName::from_static("allow"),
                "GET, POST, DELETE, OPTIONS",
            )],
            "",
        ),
    }
}

/// The worker compares the (trimmed) header to `application/json`; we also accept a
/// `charset=utf-8` parameter and any letter case.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = header(headers, "content-type") else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|param| {
        let param = param.trim();
        param.is_empty()
            || param.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("charset")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            })
    })
}

/// `Headers.get`: every value of the header joined by `", "`, trimmed.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut joined = latin1(first.as_bytes());
    for more in values {
        let mut s = joined.into_owned();
        s.push_str(", ");
        s.push_str(&latin1(more.as_bytes()));
        joined = Cow::Owned(s);
    }
    Some(match joined {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim_matches(HTTP_WS)),
        Cow::Owned(s) => Cow::Owned(s.trim_matches(HTTP_WS).to_owned()),
    })
}

const HTTP_WS: &[char] = &[' ', '\t', '\r', '\n'];

fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

async fn read_body(state: &AppState, req: Request) -> Result<Bytes, Response> {
    let limit = state.config.max_body_bytes;
    let declared = header(req.headers(), "content-length").and_then(|v| v.parse::<u64>().ok());
    let too_large = || cors(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large".into());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large())
}

const CORS: [(HeaderName, &str); 4] = [
    (CONTENT_TYPE, TEXT_PLAIN),
    (HeaderName::from_static("access-control-allow-origin"), "*"),
    (
        HeaderName::from_static("access-control-allow-methods"),
        "GET,HEAD,POST,DELETE,OPTIONS",
    ),
    (HeaderName::from_static("access-control-max-age"), "86400"),
];

/// A text answer with the CORS headers and `Vary: Origin` (the worker's JSON and 4xx answers).
fn cors(status: StatusCode, body: String) -> Response {
    let mut response = respond(status, &CORS, body);
    response
        .headers_mut()
        .insert("vary", HeaderValue::from_static("Origin"));
    response
}

/// A bare `new Response(text, { status })`.
fn plain(status: StatusCode, body: &'static str) -> Response {
    respond(status, &[(CONTENT_TYPE, TEXT_PLAIN)], body)
}

fn respond(
    status: StatusCode,
    headers: &[(HeaderName, &'static str)],
    body: impl Into<Body>,
) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}
