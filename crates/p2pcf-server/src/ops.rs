//! Operating the server: `GET /healthz` (200 only when the store answers) and `GET /metrics`
//! (Prometheus text format, when `ServerConfig::metrics` is set).
//!
//! Other parts of the server (e.g. the PeerJS endpoint) add their own series by registering a
//! [`MetricsSource`] with [`Metrics::register`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;

/// How long `/healthz` waits for the store.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Upper bounds (seconds) of the store latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0,
];

/// Something that writes more series into `/metrics`.
pub trait MetricsSource: Send + Sync {
    /// Appends complete series (with `# HELP` / `# TYPE` lines) in Prometheus text format.
    fn render(&self, out: &mut String);
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let n = bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    store_update: Histogram,
    store_incr: Histogram,
    store_errors: AtomicU64,
    held_polls: AtomicI64,
    sources: Mutex<Vec<Arc<dyn MetricsSource>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Which store operation a latency belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoreOp {
    /// A room read-modify-write (every poll and leave).
    Update,
    /// The origin counter.
    Incr,
}

impl Metrics {
    /// Adds series written by `source` to every `/metrics` answer.
    pub fn register(&self, source: Arc<dyn MetricsSource>) {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(source);
    }

    pub(crate) fn request(&self, route: &'static str, status: StatusCode) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests.entry((route, status.as_u16())).or_default() += 1;
    }

    pub(crate) fn store(&self, op: StoreOp, took: Duration, ok: bool) {
        match op {
            StoreOp::Update => self.store_update.observe(took),
            StoreOp::Incr => self.store_incr.observe(took),
        }
        if !ok {
            self.store_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a poll held by the long-poll extension until the guard drops.
    pub(crate) fn held_poll(self: &Arc<Self>) -> HeldPoll {
        self.held_polls.fetch_add(1, Ordering::Relaxed);
        HeldPoll(self.clone())
    }

    fn render(&self, stats: crate::store::StoreStats, out: &mut String) {
        out.push_str(
            "# HELP p2pcf_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE p2pcf_http_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "p2pcf_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let gauges = [
            (
                "p2pcf_rooms",
                "Rooms held by this server's store.",
                stats.rooms,
            ),
            (
                "p2pcf_room_entries",
                "Room entries held (live or not yet vacuumed).",
                stats.entries,
            ),
            (
                "p2pcf_store_keys",
                "Keys in the Redis database (rooms, counters of emptied rooms, origin counters).",
                stats.keys,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
                );
            }
        }
        out.push_str("# HELP p2pcf_store_seconds Latency of store operations.\n");
        out.push_str("# TYPE p2pcf_store_seconds histogram\n");
        self.store_update
            .render(out, "p2pcf_store_seconds", "op=\"update_room\"");
        self.store_incr
            .render(out, "p2pcf_store_seconds", "op=\"origin_count\"");
        let errors = self.store_errors.load(Ordering::Relaxed);
        let held = self.held_polls.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP p2pcf_store_errors_total Store operations that failed (Redis unreachable, timeouts, errors).\n\
             # TYPE p2pcf_store_errors_total counter\np2pcf_store_errors_total {errors}\n\
             # HELP p2pcf_long_polls_held Polls currently held by the long-poll extension.\n\
             # TYPE p2pcf_long_polls_held gauge\np2pcf_long_polls_held {held}"
        );
        let sources = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for source in sources {
            source.render(out);
        }
    }
}

/// Decrements the held-poll gauge on drop.
pub(crate) struct HeldPoll(Arc<Metrics>);

impl Drop for HeldPoll {
    fn drop(&mut self) {
        self.0.held_polls.fetch_sub(1, Ordering::Relaxed);
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /healthz`: 200 `ok` when the store answers within 2 s, else 503 with the reason.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let status = match tokio::time::timeout(HEALTH_TIMEOUT, state.store().check()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n".to_owned()),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "store unavailable: no answer within 2 s\n".to_owned(),
        ),
    };
    state.metrics().request("healthz", status.0);
    text(status.0, "text/plain; charset=utf-8", status.1)
}

/// `GET /metrics` in the Prometheus text exposition format (version 0.0.4).
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.store().stats().await;
    let mut out = String::with_capacity(4096);
    state.metrics().request("metrics", StatusCode::OK);
    state.metrics().render(stats, &mut out);
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        out,
    )
}
