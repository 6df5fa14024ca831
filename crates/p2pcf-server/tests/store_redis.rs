//! The Redis store with a real redis-server: several server instances over one Redis, the
//! long-poll wake-up across instances, expiry by TTL, the origin counter, Redis outages (503,
//! then recovery) and AOF persistence. The shared behaviour tests (rooms.rs, robustness.rs,
//! validation.rs, http_surface.rs) also run over Redis through `both_stores!`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use common::redis_server::RedisServer;
use common::*;
use p2pcf_server::{router, AppState, RedisOptions, RedisStore, ServerConfig, Store};
use serde_json::json;

/// One server instance (router + its own store and connections) over the given Redis.
fn instance(redis: &RedisServer, options: RedisOptions) -> (Router, Arc<RedisStore>) {
    let store = Arc::new(RedisStore::open(&redis.url(), options).expect("open redis store"));
    let state = AppState::with_store(ServerConfig::default(), store.clone());
    (router(state), store)
}

fn watch(room: &str, since: u64, wait_ms: u64) -> Request<Body> {
    Request::post("/")
        .header("content-type", "application/json")
        .header("x-p2pcf-wait", wait_ms.to_string())
        .header("x-p2pcf-since", since.to_string())
        .body(Body::from(json!({ "r": room, "k": "watcher" }).to_string()))
        .expect("request")
}

fn version(answer: &Answer) -> u64 {
    answer
        .header("x-p2pcf-version")
        .and_then(|v| v.parse().ok())
        .expect("version header")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_through_two_instances_lose_nothing() {
    let redis = RedisServer::start();
    let (a, _) = instance(&redis, RedisOptions::default());
    let (b, _) = instance(&redis, RedisOptions::default());
    let now = now_ms();
    let mut tasks = Vec::new();
    for i in 0..120 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let body = publish(
                "crowd",
                &format!("ctx{i}"),
                &format!("s{i}"),
                now,
                json!([]),
            );
            let answer = send(&app, post(&body)).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            answer.json()["dk"].as_str().expect("dk").to_owned()
        }));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.expect("task"));
    }
    let mut want: Vec<String> = (0..120).map(|i| format!("s{i}")).collect();
    want.sort();
    for app in [&a, &b] {
        let mut seen = send(app, post(&json!({"r": "crowd"}))).await.sessions();
        seen.sort();
        assert_eq!(
            seen, want,
            "every join is in the room, seen from both instances"
        );
    }
    // Concurrent leaves through both instances, with the delete keys each join got.
    let mut tasks = Vec::new();
    for (i, dk) in keys.into_iter().enumerate().take(60) {
        let app = if i % 2 == 1 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut bye = peer("crowd", &format!("ctx{i}"), &format!("s{i}"), now);
            bye["dk"] = json!(dk);
            send(&app, leave(&bye)).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 200);
    }
    let mut seen = send(&a, post(&json!({"r": "crowd"}))).await.sessions();
    seen.sort();
    let mut rest: Vec<String> = (60..120).map(|i| format!("s{i}")).collect();
    rest.sort();
    assert_eq!(seen, rest);
}

#[tokio::test]
async fn a_poll_held_on_one_instance_is_woken_by_a_join_through_another() {
    let redis = RedisServer::start();
    let (a, _) = instance(&redis, RedisOptions::default());
    let (b, _) = instance(&redis, RedisOptions::default());
    let v0 = version(&send(&a, post(&json!({ "r": "room1", "k": "watcher" }))).await);
    assert_eq!(
        version(&send(&b, post(&json!({ "r": "room1", "k": "watcher" }))).await),
        v0,
        "both instances report the same version"
    );
    for round in 0..3 {
        let since = version(&send(&a, post(&json!({ "r": "room1", "k": "watcher" }))).await);
        let app = a.clone();
        let held = tokio::spawn(async move {
            let answer = send(&app, watch("room1", since, 10_000)).await;
            (answer, Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!held.is_finished(), "held while nothing changes");
        let ctx = format!("ctx{round}");
        let session = format!("s{round}");
        let join = send(
            &b,
            post(&publish("room1", &ctx, &session, now_ms(), json!([]))),
        )
        .await;
        let joined_at = Instant::now();
        assert_eq!(join.status, 200);
        let (answer, answered_at) = held.await.expect("task");
        let took = answered_at.duration_since(joined_at);
        assert!(
            took < Duration::from_millis(200),
            "answered {took:?} after the join on the other instance"
        );
        assert!(answer.sessions().contains(&session), "{}", answer.text);
        assert!(version(&answer) > since);
        assert_eq!(
            version(&answer),
            version(&join),
            "one counter for both instances"
        );
    }
}

#[tokio::test]
async fn rooms_expire_by_redis_ttl() {
    let redis = RedisServer::start();
    let options = RedisOptions {
        expiry_margin: Duration::from_millis(300),
    };
    let (app, _) = instance(&redis, options);
    let mut body = publish("short", "ctxA", "sA", now_ms(), json!([]));
    body["x"] = json!(400);
    assert_eq!(send(&app, post(&body)).await.status, 200);
    assert_eq!(redis.command("EXISTS p2pcf:{short}").trim(), ":1");
    let ttl: i64 = redis
        .command("PTTL p2pcf:{short}")
        .trim()
        .trim_start_matches(':')
        .parse()
        .expect("pttl");
    assert!(
        (300..=800).contains(&ttl),
        "key TTL {ttl} ms = entry expiry + margin"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        send(&app, post(&json!({"r": "short"}))).await.sessions(),
        Vec::<String>::new(),
        "an expired entry is never answered"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        redis.command("EXISTS p2pcf:{short}").trim(),
        ":0",
        "Redis removed the room by TTL"
    );
}

#[tokio::test]
async fn the_origin_quota_is_one_counter_shared_by_instances() {
    let redis = RedisServer::start();
    let config = ServerConfig {
        origin_quota: Some(3),
        ..ServerConfig::default()
    };
    let store_a = Arc::new(RedisStore::open(&redis.url(), RedisOptions::default()).expect("a"));
    let store_b = Arc::new(RedisStore::open(&redis.url(), RedisOptions::default()).expect("b"));
    let a = router(AppState::with_store(config.clone(), store_a));
    let b = router(AppState::with_store(config, store_b));
    let from = |origin: &str| {
        Request::post("/")
            .header("content-type", "application/json")
            .header("origin", origin)
            .body(Body::from(json!({"r": "room1"}).to_string()))
            .expect("request")
    };
    let statuses = [
        send(&a, from("https://o.example")).await.status,
        send(&b, from("https://o.example")).await.status,
        send(&a, from("https://o.example")).await.status,
        send(&b, from("https://o.example")).await.status,
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [200, 200, 200, 429]);
    assert_eq!(send(&b, from("https://p.example")).await.status, 200);
    let month = p2pcf_server::month_key(now_ms());
    let key = format!("p2pcf:origin:{month}:https://o.example");
    assert_eq!(
        redis.command(&format!("GET {key}")).lines().nth(1),
        Some("4")
    );
    let ttl: i64 = redis
        .command(&format!("TTL {key}"))
        .trim()
        .trim_start_matches(':')
        .parse()
        .expect("ttl");
    assert!(
        ttl > 31 * 24 * 3600 && ttl <= 32 * 24 * 3600,
        "expires: {ttl} s"
    );
}

#[tokio::test]
async fn redis_down_answers_503_and_service_resumes_when_it_returns() {
    let mut redis = RedisServer::start();
    let (app, _) = instance(&redis, RedisOptions::default());
    let now = now_ms();
    assert_eq!(
        send(&app, post(&publish("room1", "ctxA", "sA", now, json!([]))))
            .await
            .status,
        200
    );
    assert_eq!(send(&app, get("/healthz")).await.status, 200);

    redis.kill();
    let started = Instant::now();
    let down = send(&app, post(&peer("room1", "ctxB", "sB", now))).await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert_eq!(
        down.text,
        "Service unavailable: the room store cannot be reached, retry later"
    );
    assert_eq!(down.header("access-control-allow-origin"), Some("*"));
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
    let health = send(&app, get("/healthz")).await;
    assert_eq!(health.status, 503);
    assert!(
        health.text.starts_with("store unavailable: "),
        "{}",
        health.text
    );
    // A held poll is not held on a dead store: answered (503) at once.
    let held = send(&app, watch("room1", 1, 5_000)).await;
    assert_eq!(held.status, 503);

    redis.restart(); // volatile: the room is gone, the service is back
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut back = None;
    while Instant::now() < deadline {
        let a = send(&app, post(&publish("room1", "ctxB", "sB", now, json!([])))).await;
        if a.status == 200 {
            back = Some(Instant::now());
            break;
        }
        assert_eq!(a.status, 503);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back.is_some(), "service resumed after Redis came back");
    assert_eq!(send(&app, get("/healthz")).await.status, 200);
    assert_eq!(
        send(&app, post(&json!({"r": "room1"}))).await.sessions(),
        vec!["sB"]
    );
}

#[tokio::test]
async fn rooms_survive_a_redis_crash_with_aof() {
    let mut redis = RedisServer::start_aof();
    let (app, _) = instance(&redis, RedisOptions::default());
    let now = now_ms();
    let dk = send(
        &app,
        post(&publish("room1", "ctxA", "sA", now, json!([["sB", 7]]))),
    )
    .await
    .json()["dk"]
        .clone();
    send(&app, post(&publish("room1", "ctxC", "sC", now, json!([])))).await;
    let before = version(&send(&app, post(&json!({"r": "room1"}))).await);

    redis.restart(); // SIGKILL, then start on the same AOF
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        let a = send(&app, post(&peer("room1", "ctxB", "sB", now))).await;
        if a.status == 200 || Instant::now() > deadline {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.sessions(), vec!["sA", "sC"]);
    assert_eq!(answer.json()["pk"], json!([["sB", 7]]));
    assert_eq!(version(&answer), before, "the change counter survives too");
    let mut bye = peer("room1", "ctxA", "sA", now);
    bye["dk"] = dk;
    assert_eq!(
        send(&app, leave(&bye)).await.status,
        200,
        "delete key survives"
    );
}

#[tokio::test]
async fn a_steady_poll_is_one_redis_command_and_a_join_two() {
    let redis = RedisServer::start();
    let (app, _) = instance(&redis, RedisOptions::default());
    let now = now_ms();
    send(&app, post(&publish("room1", "ctxA", "sA", now, json!([])))).await;
    send(&app, post(&publish("room1", "ctxB", "sB", now, json!([])))).await;
    assert!(redis.command("CONFIG RESETSTAT").starts_with("+OK"));
    for _ in 0..50 {
        let a = send(&app, post(&peer("room1", "ctxB", "sB", now))).await;
        assert_eq!(a.sessions(), vec!["sA"]);
    }
    for i in 0..10 {
        let ctx = format!("new{i}");
        let a = send(&app, post(&publish("room1", &ctx, &ctx, now, json!([])))).await;
        assert_eq!(a.status, 200);
    }
    let stats = redis.command("INFO commandstats");
    let calls = |cmd: &str| -> u64 {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    // 60 reads (50 polls + 10 joins), 10 compare-and-set scripts (EVAL once, then EVALSHA).
    assert_eq!(calls("hmget"), 60, "{stats}");
    assert_eq!(
        calls("evalsha") + calls("eval"),
        10 + calls("eval"),
        "{stats}"
    );
    assert!(calls("evalsha") >= 9, "{stats}");
}

#[tokio::test]
async fn store_check_and_stats() {
    let mut redis = RedisServer::start();
    let store = RedisStore::open(&redis.url(), RedisOptions::default()).expect("open");
    store.check().await.expect("ping");
    redis.kill();
    assert!(store.check().await.is_err());
}

#[test]
fn bad_urls_are_clear_errors() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = rt.enter();
    for url in ["redis+cluster://", "mysql://x", "redis://[::1"] {
        let e = RedisStore::open(url, RedisOptions::default())
            .expect_err(url)
            .to_string();
        assert!(e.contains("invalid store configuration"), "{url}: {e}");
    }
}

#[tokio::test]
async fn rediss_connects_over_tls() {
    // A self-signed certificate made for this test (`#insecure`: not verified).
    let certs = TempDir::new();
    let (key, cert) = (certs.0.join("key.pem"), certs.0.join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let tls_port = common::redis_server::free_port();
    let (key, cert) = (key.to_string_lossy(), cert.to_string_lossy());
    let tls_port_arg = tls_port.to_string();
    let redis = RedisServer::start_with(&[
        "--save",
        "",
        "--tls-port",
        &tls_port_arg,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &cert,
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://127.0.0.1:{tls_port}/#insecure");
    let store = Arc::new(RedisStore::open(&url, RedisOptions::default()).expect("open"));
    let app = router(AppState::with_store(ServerConfig::default(), store.clone()));
    let now = now_ms();
    assert_eq!(
        send(&app, post(&publish("room1", "ctxA", "sA", now, json!([]))))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&app, post(&json!({"r": "room1"}))).await.sessions(),
        vec!["sA"]
    );
    assert_eq!(
        redis.command("EXISTS p2pcf:{room1}").trim(),
        ":1",
        "written over TLS"
    );
    // Plain text to the TLS port does not work: the store really speaks TLS there.
    let plain = RedisStore::open(
        &format!("redis://127.0.0.1:{tls_port}"),
        RedisOptions::default(),
    )
    .expect("open");
    assert!(plain.check().await.is_err());
}

#[tokio::test]
async fn the_wake_up_across_instances_works_again_after_redis_restarts() {
    let mut redis = RedisServer::start();
    let (a, _) = instance(&redis, RedisOptions::default());
    let (b, _) = instance(&redis, RedisOptions::default());
    let now = now_ms();
    let held_then_join = |round: u32| {
        let (a, b) = (a.clone(), b.clone());
        async move {
            let since = version(&send(&a, post(&json!({ "r": "room1", "k": "w" }))).await);
            let app = a.clone();
            let held = tokio::spawn(async move {
                let answer = send(&app, watch("room1", since, 10_000)).await;
                (answer, Instant::now())
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(
                !held.is_finished(),
                "round {round}: held while nothing changes"
            );
            let ctx = format!("ctx{round}");
            let join = send(&b, post(&publish("room1", &ctx, &ctx, now, json!([])))).await;
            assert_eq!(join.status, 200);
            let joined_at = Instant::now();
            let (answer, at) = held.await.expect("task");
            let took = at.duration_since(joined_at);
            assert!(
                took < Duration::from_millis(200),
                "round {round}: woken {took:?} after the join"
            );
            assert!(answer.sessions().contains(&ctx));
        }
    };
    held_then_join(0).await;
    redis.restart();
    // Until both instances' connections are back, requests may get 503.
    let deadline = Instant::now() + Duration::from_secs(10);
    while send(&a, post(&json!({"r": "room1"}))).await.status != 200
        || send(&b, post(&json!({"r": "room1"}))).await.status != 200
    {
        assert!(Instant::now() < deadline, "service did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    held_then_join(1).await;
    held_then_join(2).await;
}
