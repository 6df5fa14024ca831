//! PeerJS conformance: the same HTTP + WebSocket scenarios run against the official server
//! (npm `peer@1.0.2`, started by the test with `tests/js/peerjs_server.mjs` on a free loopback
//! port) and against our `p2pcf_server`, in the same run. Every observation must meet its
//! expectation, and the two servers' normalised observations must be equal one by one, except
//! where an observation names a documented improvement (`peerjs_conformance/improvements.rs`).
//! The allowed differences and the measured timings are printed (`--no-capture` to see them).

mod peerjs_conformance {
    pub mod cases_http;
    pub mod cases_limits;
    pub mod cases_queue;
    pub mod cases_ws;
    pub mod improvements;
    pub mod runner;
}

use std::time::Duration;

use futures::future::join_all;
use p2pcf_server::ServerConfig;
use p2pcf_tests::peerjs_server::{OfficialOptions, OfficialPeerServer};
use p2pcf_tests::server::TestServer;
use peerjs_conformance::runner::{compare, Case, Run, Settings, Target};

/// Both servers of one group, started with the same settings.
struct Servers {
    official: OfficialPeerServer,
    ours: TestServer,
    settings: Settings,
}

impl Servers {
    async fn start(settings: Settings, allow_discovery: bool) -> Self {
        let options = OfficialOptions {
            expire_timeout_ms: settings.expire_timeout_ms,
            alive_timeout_ms: settings.alive_timeout_ms,
            concurrent_limit: settings.concurrent_limit,
            allow_discovery,
            ..OfficialOptions::default()
        };
        let (official, ours) = tokio::join!(
            OfficialPeerServer::start(&options),
            start_ours(&settings, allow_discovery)
        );
        Self {
            official: official.expect("start the official PeerJS server"),
            ours,
            settings,
        }
    }

    fn targets(&self) -> [(Target, String); 2] {
        [
            (Target::Official, self.official.base_url()),
            (Target::Ours, format!("{}/peerjs/", self.ours.url)),
        ]
    }
}

/// Runs every case against both servers (cases concurrently), compares, prints the allowed
/// differences and notes, and returns the failures.
async fn run_group(group: &str, cases: Vec<Case>, servers: &Servers) -> Vec<String> {
    let targets = servers.targets();
    let runs = cases.iter().map(|case| {
        let targets = &targets;
        async move {
            let per_target = join_all(targets.iter().map(|(target, base)| async move {
                let mut run = Run::new(*target, base.clone(), servers.settings.clone());
                if let Err(e) = (case.run)(&mut run).await {
                    run.failures.push(format!("case aborted: {e:#}"));
                }
                run
            }))
            .await;
            (case.name, per_target)
        }
    });
    let results = tokio::time::timeout(Duration::from_secs(120), join_all(runs))
        .await
        .expect("PeerJS conformance cases did not finish within 120 s");
    let mut failures = Vec::new();
    let mut allowed = Vec::new();
    let mut notes = Vec::new();
    for (name, runs) in &results {
        for run in runs {
            for f in &run.failures {
                failures.push(format!("[{name}][{:?}] {f}", run.target));
            }
            for n in &run.notes {
                notes.push(format!("[{name}][{:?}] {n}", run.target));
            }
        }
        if let [official, ours] = runs.as_slice() {
            let (f, a) = compare(name, official, ours);
            failures.extend(f);
            allowed.extend(a);
        }
    }
    let observations: usize = results.iter().map(|(_, runs)| runs[0].entries.len()).sum();
    eprintln!(
        "PeerJS conformance, {group}: {} cases, {observations} observations per server, {} allowed difference(s):",
        results.len(),
        allowed.len()
    );
    for line in allowed.iter().chain(&notes) {
        eprintln!("  {line}");
    }
    failures
}

fn report(group: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{group}: {} PeerJS conformance failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peerjs_cases_match_official_server() {
    let settings = Settings {
        expire_timeout_ms: 1500,
        alive_timeout_ms: 90_000,
        concurrent_limit: 5000,
    };
    let servers = Servers::start(settings, false).await;
    let mut cases = peerjs_conformance::cases_http::cases();
    cases.extend(peerjs_conformance::cases_ws::cases());
    cases.extend(peerjs_conformance::cases_queue::cases());
    let mut failures = run_group("default settings", cases, &servers).await;
    // The official server reported each of the 7 frames of `invalid_json_keeps_socket` it could
    // not take (not JSON, or JSON it cannot set `src` on) to its `error` listener, and lived.
    let errors: Vec<_> = servers
        .official
        .events()
        .into_iter()
        .filter(|e| e["ev"] == "error")
        .collect();
    eprintln!("official server `error` events: {}", errors.len());
    if errors.len() < 7 {
        failures.push(format!(
            "official server reported {} errors for the invalid frames: {errors:?}",
            errors.len()
        ));
    }
    report("default settings", &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peerjs_concurrent_limit_matches_official_server() {
    let settings = Settings {
        expire_timeout_ms: 5000,
        alive_timeout_ms: 90_000,
        concurrent_limit: 2,
    };
    let servers = Servers::start(settings, true).await;
    let failures = run_group(
        "limit 2, discovery on",
        vec![crate::case!(concurrent_limit)],
        &servers,
    )
    .await;
    report("limit 2, discovery on", &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peerjs_liveness_matches_official_server() {
    let settings = Settings {
        expire_timeout_ms: 5000,
        alive_timeout_ms: 2000,
        concurrent_limit: 5000,
    };
    let servers = Servers::start(settings, false).await;
    let failures = run_group(
        "alive timeout 2 s",
        vec![crate::case!(heartbeat_liveness)],
        &servers,
    )
    .await;
    report("alive timeout 2 s", &failures);
}

use peerjs_conformance::cases_limits::{concurrent_limit, heartbeat_liveness};

async fn start_ours(settings: &Settings, allow_discovery: bool) -> TestServer {
    let mut config = ServerConfig::default();
    config.peerjs.path = "/peerjs".into();
    config.peerjs.key = "peerjs".into();
    config.peerjs.expire_timeout_ms = settings.expire_timeout_ms;
    config.peerjs.alive_timeout_ms = settings.alive_timeout_ms;
    config.peerjs.concurrent_limit = settings.concurrent_limit;
    config.peerjs.allow_discovery = allow_discovery;
    TestServer::start(config).await.expect("start our server")
}
