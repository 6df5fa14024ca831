//! The Redis store over a real 3-node Redis Cluster (Debian's redis-server, created with
//! `redis-cli --cluster create`): rooms on different shards, concurrent joins through two
//! instances, and the long-poll wake-up across instances over sharded pub/sub (SPUBLISH).

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::redis_server::RedisServer;
use common::*;
use p2pcf_server::{router, AppState, RedisOptions, RedisStore, ServerConfig};
use serde_json::json;

struct Cluster {
    nodes: Vec<RedisServer>,
}

impl Cluster {
    fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .arg("--cluster-yes")
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        while !nodes
            .iter()
            .all(|n| n.command("CLUSTER INFO").contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "cluster did not become ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { nodes }
    }

    fn url(&self) -> String {
        format!("redis+cluster://127.0.0.1:{}", self.nodes[0].port)
    }
}

fn version(answer: &Answer) -> u64 {
    answer
        .header("x-p2pcf-version")
        .and_then(|v| v.parse().ok())
        .expect("version header")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_over_a_cluster_share_rooms_and_wake_polls() {
    let cluster = Cluster::start();
    let instance = || {
        let store =
            Arc::new(RedisStore::open(&cluster.url(), RedisOptions::default()).expect("open"));
        router(AppState::with_store(ServerConfig::default(), store))
    };
    let (a, b) = (instance(), instance());
    let now = now_ms();

    // Rooms spread over the shards; concurrent joins through both instances lose nothing.
    let rooms: Vec<String> = (0..6).map(|i| format!("room-{i}")).collect();
    let mut tasks = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        for i in 0..10 {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let body = publish(
                room,
                &format!("c{r}-{i}"),
                &format!("s{r}-{i}"),
                now,
                json!([]),
            );
            tasks.push(tokio::spawn(
                async move { send(&app, post(&body)).await.status },
            ));
        }
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 200);
    }
    for (r, room) in rooms.iter().enumerate() {
        let mut seen = send(&b, post(&json!({ "r": room }))).await.sessions();
        seen.sort();
        let mut want: Vec<String> = (0..10).map(|i| format!("s{r}-{i}")).collect();
        want.sort();
        assert_eq!(seen, want, "{room}");
    }
    let shards: std::collections::HashSet<String> = rooms
        .iter()
        .map(|room| {
            let slot = cluster.nodes[0].command(&format!("CLUSTER KEYSLOT p2pcf:{{{room}}}"));
            let slot: u16 = slot.trim().trim_start_matches(':').parse().expect("slot");
            (slot / 5462).to_string()
        })
        .collect();
    assert!(shards.len() > 1, "the rooms live on more than one shard");

    // A poll held on A is woken by a join through B (sharded pub/sub).
    for room in &rooms[..3] {
        let since = version(&send(&a, post(&json!({ "r": room, "k": "w" }))).await);
        let app = a.clone();
        let watch = Request::post("/")
            .header("content-type", "application/json")
            .header("x-p2pcf-wait", "10000")
            .header("x-p2pcf-since", since.to_string())
            .body(Body::from(json!({ "r": room, "k": "w" }).to_string()))
            .expect("request");
        let held = tokio::spawn(async move {
            let answer = send(&app, watch).await;
            (answer, Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!held.is_finished(), "held while nothing changes");
        let join = send(&b, post(&publish(room, "late", "s-late", now, json!([])))).await;
        let joined_at = Instant::now();
        assert_eq!(join.status, 200);
        let (answer, at) = held.await.expect("task");
        let took = at.duration_since(joined_at);
        assert!(
            took < Duration::from_millis(200),
            "{room}: woken {took:?} after the join"
        );
        assert!(answer.sessions().contains(&"s-late".to_owned()));
    }
}
