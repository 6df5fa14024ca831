//! Conformance: the same table of HTTP exchanges runs against the real worker.js (under
//! miniflare) and against our server, in the same test run. Each answer must meet its
//! expectation, and the two targets' normalized answers must be equal step by step, except
//! where a step names a documented improvement (see `conformance/improvements.rs`).

mod conformance {
    pub mod cases_http;
    pub mod cases_origin;
    pub mod cases_room;
    pub mod cases_validation;
    pub mod fixtures;
    pub mod improvements;
    pub mod runner;
}

use std::time::Duration;

use conformance::fixtures::{now_ms, one_shot_client, room_id};
use conformance::runner::{run_case, Case, Step, Target};
use futures::future::join_all;
use p2pcf_server::ServerConfig;
use p2pcf_tests::cluster_proxy::HaproxyCluster;
use p2pcf_tests::server::TestServer;
use p2pcf_tests::worker::RealWorker;

/// Runs every case against every target, compares, and returns the list of failures.
async fn run_group(cases: Vec<Case>, targets: &[(Target, String)]) -> Vec<String> {
    let client = one_shot_client();
    let runs = cases.iter().map(|case| {
        let client = &client;
        async move {
            let steps = (case.build)(&room_id("conf"), now_ms());
            let per_target = join_all(
                targets
                    .iter()
                    .map(|(target, url)| run_case(client, url, *target, &steps)),
            )
            .await;
            let mut failures = Vec::new();
            for ((target, _), run) in targets.iter().zip(&per_target) {
                for f in &run.failures {
                    failures.push(format!("[{}][{target:?}] {f}", case.name));
                }
            }
            if let [worker, ours] = per_target.as_slice() {
                failures.extend(compare(case.name, &steps, worker, ours));
            }
            failures
        }
    });
    tokio::time::timeout(Duration::from_secs(240), join_all(runs))
        .await
        .expect("conformance cases did not finish within 240 s")
        .into_iter()
        .flatten()
        .collect()
}

/// Step-by-step equality of the normalized answers, except on steps with a documented
/// improvement (those are checked against their own expectation by `run_case`).
fn compare(
    name: &str,
    steps: &[Step],
    worker: &conformance::runner::CaseRun,
    ours: &conformance::runner::CaseRun,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let Step::Send(exchange) = step else { continue };
        if exchange.ours.is_some() {
            continue;
        }
        if let (Some(Some(w)), Some(Some(o))) = (worker.observed.get(i), ours.observed.get(i)) {
            if w != o {
                failures.push(format!(
                    "[{name}] step {i} ({}): worker and ours differ\n      worker: {w:?}\n      ours:   {o:?}",
                    exchange.note
                ));
            }
        }
    }
    failures
}

fn report(group: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{group}: {} conformance failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Starts the real worker with `bindings` and our server with the matching `config`.
async fn targets(
    bindings: &[(&str, &str)],
    config: ServerConfig,
) -> (RealWorker, TestServer, [(Target, String); 2]) {
    let (worker, ours) = tokio::join!(RealWorker::start(bindings), TestServer::start(config));
    let (worker, ours) = (
        worker.expect("start worker"),
        ours.expect("start our server"),
    );
    let urls = [
        (Target::Worker, worker.url.clone()),
        (Target::Ours, ours.url.clone()),
    ];
    (worker, ours, urls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_config_cases_match_real_worker() {
    let (_worker, _ours, urls) = targets(&[], ServerConfig::default()).await;
    let mut cases = conformance::cases_room::cases();
    cases.extend(conformance::cases_validation::cases());
    cases.extend(conformance::cases_http::cases());
    cases.extend(conformance::cases_origin::default_cases());
    report("default config", run_group(cases, &urls).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_cases_match_real_worker() {
    let allowed = ["https://good.example", "https://also.example"];
    let config = ServerConfig {
        allowed_origins: allowed.map(String::from).to_vec(),
        ..ServerConfig::default()
    };
    let (_worker, _ours, urls) = targets(&[("ALLOWED_ORIGINS", &allowed.join(","))], config).await;
    let cases = conformance::cases_origin::allowed_origin_cases();
    report("allowed origins", run_group(cases, &urls).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_quota_cases_match_real_worker() {
    let config = ServerConfig {
        allowed_origins: vec!["https://good.example".into()],
        origin_quota: Some(1_000_000),
        ..ServerConfig::default()
    };
    let bindings = [
        ("ALLOWED_ORIGINS", "https://good.example"),
        ("ORIGIN_QUOTA", "1000000"),
    ];
    let (_worker, _ours, urls) = targets(&bindings, config).await;
    let cases = conformance::cases_origin::quota_cases();
    report("origin quota", run_group(cases, &urls).await);
}

/// Exact counting, against our server only: the worker counts 1 request in 100 (adding 100),
/// so its 429 arrives at a random request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_quota_is_counted_exactly() {
    let config = ServerConfig {
        allowed_origins: vec!["https://good.example".into()],
        origin_quota: Some(3),
        ..ServerConfig::default()
    };
    let ours = TestServer::start(config).await.expect("start our server");
    let urls = [(Target::Ours, ours.url.clone())];
    report(
        "exact quota",
        run_group(conformance::cases_origin::exact_quota_cases(), &urls).await,
    );
}

/// The same cases through the documented haproxy recipe in front of three `p2pcf serve`
/// processes sharing one Redis (the steps of a case land on different instances, round robin):
/// the answers must match the real worker's exactly as the single server's do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_config_cases_through_haproxy_and_three_instances_match_real_worker() {
    let (worker, cluster) = tokio::join!(
        RealWorker::start(&[]),
        HaproxyCluster::start("conformance", 3, &[])
    );
    let worker = worker.expect("start worker");
    let cluster = cluster.expect("start redis-server, 3 instances and haproxy");
    let urls = [
        (Target::Worker, worker.url.clone()),
        (Target::Ours, cluster.haproxy.url.clone()),
    ];
    let mut cases = conformance::cases_room::cases();
    cases.extend(conformance::cases_validation::cases());
    cases.extend(conformance::cases_http::cases());
    cases.extend(conformance::cases_origin::default_cases());
    report("default config via haproxy", run_group(cases, &urls).await);
}

/// One origin counter for all instances: the exact quota holds across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_quota_is_counted_exactly_across_instances() {
    let args = [
        "--allowed-origins",
        "https://good.example",
        "--origin-quota",
        "3",
    ];
    let cluster = HaproxyCluster::start("quota", 3, &args)
        .await
        .expect("start redis-server, 3 instances and haproxy");
    let urls = [(Target::Ours, cluster.haproxy.url.clone())];
    report(
        "exact quota via haproxy",
        run_group(conformance::cases_origin::exact_quota_cases(), &urls).await,
    );
}
