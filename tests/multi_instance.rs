//! Three `p2pcf serve --store redis://…` processes sharing Debian's `redis-server`, behind
//! Debian's haproxy running the documented recipe (`packaging/haproxy-p2pcf.cfg`): peers joining
//! at once through different instances all see each other, Rust peers on different instances
//! connect as fast as on one (a held poll wakes across instances), and `kill -9` of an instance
//! during a run loses no room entry while the clients keep polling through haproxy.

#[path = "conformance/fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use fixtures::{http_client, now_ms, post_json, room_id, seen_sessions, Peer};
use futures::future::join_all;
use p2pcf_client::ClientEvent;
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::cluster_proxy::HaproxyCluster;
use serde_json::{json, Value};
use tokio::sync::Barrier;

/// POSTs through `url` and parses the answer; the status must be 200.
async fn post_ok(client: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
    let (status, text) = post_json(client, url, body).await?;
    ensure!(status == 200, "{status} {text}");
    Ok(serde_json::from_str(&text)?)
}

fn sorted_sessions(answer: &Value) -> Vec<String> {
    let mut seen = seen_sessions(answer);
    seen.sort();
    seen
}

/// The sessions of `peers` other than `me`, sorted.
fn others(peers: &[Peer], me: &Peer) -> Vec<String> {
    let mut all: Vec<String> = peers
        .iter()
        .filter(|p| p.session != me.session)
        .map(|p| p.session.clone())
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_joining_at_once_through_three_instances_see_each_other(
) -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let cluster = HaproxyCluster::start("join20", 3, &[]).await?;
    let url = cluster.haproxy.url.clone();
    let room = room_id("join20");
    let peers: Vec<Peer> = (0..20).map(|i| Peer::new(&format!("p{i:02}"))).collect();
    let client = http_client();
    let barrier = Arc::new(Barrier::new(peers.len()));
    let t = now_ms();

    // Everyone publishes at the same moment; haproxy spreads the requests round robin.
    let joins = peers.iter().map(|peer| {
        let (client, url, room, barrier) = (&client, &url, &room, barrier.clone());
        async move {
            barrier.wait().await;
            post_ok(client, url, &peer.publish(room, t, json!([]))).await
        }
    });
    let answers: Vec<Value> = join_all(joins)
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let seen_at_join: Vec<usize> = answers.iter().map(|a| seen_sessions(a).len()).collect();
    println!("peers seen in each join answer: {seen_at_join:?}");

    // Then each one's next poll (through haproxy, so on any instance) lists the 19 others.
    for peer in &peers {
        let answer = post_ok(&client, &url, &peer.poll(&room, t)).await?;
        ensure!(
            sorted_sessions(&answer) == others(&peers, peer),
            "{} sees {} peers: {answer}",
            peer.session,
            seen_sessions(&answer).len()
        );
    }
    // Every instance, asked directly, has the whole room.
    let reader = Peer::new("reader");
    for instance in &cluster.instances {
        let answer = post_ok(&client, &instance.url, &reader.read(&room)).await?;
        ensure!(
            seen_sessions(&answer).len() == 20,
            "{} lists {}",
            instance.url,
            answer
        );
    }
    let servers = cluster.haproxy.servers().await?;
    println!("2xx answers per instance through haproxy: {servers:?}");
    for server in &servers {
        ensure!(
            server.responses_2xx >= 5,
            "round robin left {} nearly idle: {servers:?}",
            server.name
        );
    }
    Ok(())
}

/// Alice joins through `alice_url` and settles (her poll is held by the long-poll extension);
/// then Bob joins through `bob_url`. Time from Bob's join to both being connected.
async fn connect_time(alice_url: &str, bob_url: &str) -> anyhow::Result<Duration> {
    let room = room_id("pair");
    let mut alice = RustPeer::join(alice_url, &room, "alice").await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        alice.next_event(deadline, "alice joined").await?,
        ClientEvent::Joined { .. }
    ) {}
    tokio::time::sleep(Duration::from_millis(800)).await;
    let started = Instant::now();
    let mut bob = RustPeer::join(bob_url, &room, "bobby").await?;
    let (a, b) = tokio::join!(
        alice.connected(1, Duration::from_secs(30)),
        bob.connected(1, Duration::from_secs(30))
    );
    a.context("alice")?;
    b.context("bob")?;
    let took = started.elapsed();
    tokio::join!(alice.handle.leave(), bob.handle.leave());
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_peers_on_different_instances_connect_as_fast_as_on_one() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let cluster = HaproxyCluster::start("pairs", 3, &[]).await?;
    let (a, b) = (&cluster.instances[0].url, &cluster.instances[1].url);
    let lb = &cluster.haproxy.url;
    let (mut same, mut across, mut through_lb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        same.push(connect_time(a, a).await?);
        across.push(connect_time(a, b).await?);
        through_lb.push(connect_time(lb, lb).await?);
    }
    let (same_m, across_m, lb_m) = (
        median(same.clone()),
        median(across.clone()),
        median(through_lb.clone()),
    );
    println!(
        "Rust↔Rust join→connected, median of 3: same instance {same_m:?} {same:?}; \
         different instances {across_m:?} {across:?}; both through haproxy {lb_m:?} {through_lb:?}"
    );
    // A poll held on instance A that were not woken by Bob's write through B would answer only
    // at the end of its wait (seconds); the margin allows for a loaded CI machine.
    let margin = Duration::from_millis(400).max(same_m / 2);
    ensure!(
        across_m <= same_m + margin,
        "different instances {across_m:?} vs same {same_m:?}"
    );
    ensure!(
        lb_m <= same_m + margin,
        "through haproxy {lb_m:?} vs same {same_m:?}"
    );
    Ok(())
}

/// What one simulated client saw in one poll.
struct PollRecord {
    at: Instant,
    outcome: Result<usize, String>,
}

/// Publishes, then polls through `url` until `until`: plain polls, a heartbeat publish (a write)
/// every 5th, and — for `long` clients — polls held by the server until the room changes.
async fn polling_client(
    client: reqwest::Client,
    url: String,
    room: String,
    peer: Peer,
    long: bool,
    until: Instant,
) -> Vec<PollRecord> {
    let mut records = Vec::new();
    let mut since: Option<String> = None;
    let mut i = 0u32;
    while Instant::now() < until {
        let t = now_ms();
        let body = if i % 5 == 0 {
            peer.publish(&room, t, json!([]))
        } else {
            peer.poll(&room, t)
        };
        let mut req = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let (true, Some(v)) = (long, &since) {
            req = req
                .header("x-p2pcf-wait", "1000")
                .header("x-p2pcf-since", v.as_str());
        }
        let outcome = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                since = res
                    .headers()
                    .get("x-p2pcf-version")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match res.text().await {
                    Ok(text) if status == 200 => serde_json::from_str::<Value>(&text)
                        .map(|a| seen_sessions(&a).len())
                        .map_err(|e| format!("bad JSON {e}: {text}")),
                    Ok(text) => Err(format!("{status} {text}")),
                    Err(e) => Err(format!("{status}, body: {e}")),
                }
            }
            Err(e) => Err(format!("{e:#}")),
        };
        records.push(PollRecord {
            at: Instant::now(),
            outcome,
        });
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_an_instance_loses_no_entry_and_polling_goes_on() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let mut cluster = HaproxyCluster::start("kill9", 3, &[]).await?;
    let url = cluster.haproxy.url.clone();
    let room = room_id("kill9");
    let peers: Vec<Peer> = (0..12).map(|i| Peer::new(&format!("k{i:02}"))).collect();
    let client = http_client();
    for peer in &peers {
        post_ok(&client, &url, &peer.publish(&room, now_ms(), json!([]))).await?;
    }
    let start = Instant::now();
    let until = start + Duration::from_millis(5500);
    let tasks: Vec<_> = peers
        .iter()
        .enumerate()
        .map(|(i, peer)| {
            tokio::spawn(polling_client(
                client.clone(),
                url.clone(),
                room.clone(),
                peer.clone(),
                i % 2 == 1,
                until,
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = Instant::now();
    cluster.instances[1].service.kill9().await?;
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await?);
    }

    // Not one poll failed: haproxy retried the requests the dead instance had accepted
    // (`retry-on empty-response`) and the refused connections (`conn-failure`) on the others.
    let settle = killed_at + Duration::from_millis(2500);
    let (mut total, mut failed, mut after) = (0, Vec::new(), 0);
    for (peer, run) in peers.iter().zip(&runs) {
        for record in run {
            total += 1;
            let at = record.at - start;
            match &record.outcome {
                Ok(seen) if *seen == peers.len() - 1 => after += usize::from(record.at > settle),
                Ok(seen) => failed.push(format!("{} saw {seen} peers at {at:?}", peer.session)),
                Err(e) => failed.push(format!("{} at {at:?}: {e}", peer.session)),
            }
        }
        ensure!(
            run.last().is_some_and(|r| r.at > settle),
            "{} stopped polling",
            peer.session
        );
    }
    let servers = cluster.haproxy.servers().await?;
    let retried: u64 = servers.iter().map(|s| s.retries + s.redispatches).sum();
    println!(
        "kill -9 of 1 of 3 instances at 1.5 s: {total} polls by {} clients, {} failed, {after} \
         after it settled; haproxy retries + redispatches: {retried}; {servers:?}",
        peers.len(),
        failed.len()
    );
    ensure!(failed.is_empty(), "polls failed: {failed:#?}");
    ensure!(
        servers
            .iter()
            .filter(|s| s.status.starts_with("DOWN"))
            .count()
            == 1,
        "haproxy should mark exactly the killed instance down: {servers:?}"
    );

    // No entry lost: the surviving instances, asked directly, list all 12.
    let reader = Peer::new("reader");
    for i in [0, 2] {
        let answer = post_ok(&client, &cluster.instances[i].url, &reader.read(&room)).await?;
        ensure!(
            sorted_sessions(&answer) == others(&peers, &reader),
            "instance {} after the kill lists {answer}",
            i + 1
        );
    }
    Ok(())
}
