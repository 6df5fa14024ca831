//! `p2pcf join` end to end: the real binary, two processes in one room, against our signalling
//! server started in-process on 127.0.0.1 (loopback ICE only, no STUN/TURN).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use p2pcf_server::ServerConfig;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_p2pcf");
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Our server on 127.0.0.1:0; stops when dropped.
struct Server {
    url: String,
    _stop: oneshot::Sender<()>,
}

async fn start_server(config: ServerConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = p2pcf_server::serve(listener, config, shutdown).await {
            eprintln!("server failed: {e}");
        }
    });
    Server { url, _stop: stop }
}

fn room() -> String {
    format!("cli-{}", rand::random::<u32>())
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2pcf-cli-{what}-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A running `p2pcf join --json`: its stdout events arrive on a channel; stderr is kept for
/// failure messages.
struct Joiner {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::UnboundedReceiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Joiner {
    fn spawn(worker: &str, room: &str, name: &str, extra: &[&str]) -> Joiner {
        let mut child = Command::new(BIN)
            .args(["join", room, "--name", name, "--worker", worker, "--json"])
            .args(["--stun", "none", "--turn", "none", "--loopback-only"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let value = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                let _ = tx.send(value);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Joiner {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            events,
            stderr,
        }
    }

    /// The next event for which `pred` holds (earlier ones are skipped).
    async fn expect(
        &mut self,
        what: &str,
        wait: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) if pred(&event) => return Ok(event),
                Ok(Some(event)) => seen.push(event),
                Ok(None) => bail!(
                    "{}: stdout closed waiting for {what}; saw {seen:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
                Err(_) => bail!(
                    "{}: timed out waiting for {what}; saw {seen:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
            }
        }
    }

    async fn expect_event(&mut self, event: &str, wait: Duration) -> anyhow::Result<Value> {
        self.expect(event, wait, |v| v["event"] == event).await
    }

    /// Waits for `joined` then `peer_connected` from `peer`; returns (our session, peer session).
    async fn connected_to(&mut self, peer: &str) -> anyhow::Result<(String, String)> {
        let joined = self.expect_event("joined", CONNECT_TIMEOUT).await?;
        let connected = self
            .expect("peer_connected", CONNECT_TIMEOUT, |v| {
                v["event"] == "peer_connected" && v["client_id"] == peer
            })
            .await?;
        Ok((
            joined["session_id"].as_str().unwrap().to_owned(),
            connected["session_id"].as_str().unwrap().to_owned(),
        ))
    }

    async fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    fn close_stdin(&mut self) {
        self.stdin.take();
    }

    async fn exit_status(&mut self, wait: Duration) -> anyhow::Result<ExitStatus> {
        timeout(wait, self.child.wait())
            .await
            .with_context(|| format!("{} did not exit; stderr:\n{}", self.name, self.stderr()))?
            .context("waiting for the process")
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

async fn two_joiners(
    server: &Server,
    alice_extra: &[&str],
    bob_extra: &[&str],
) -> anyhow::Result<(Joiner, Joiner)> {
    let room = room();
    let mut alice = Joiner::spawn(&server.url, &room, "alice", alice_extra);
    let mut bob = Joiner::spawn(&server.url, &room, "bobby", bob_extra);
    let (alice_session, alice_sees) = alice.connected_to("bobby").await?;
    let (bob_session, bob_sees) = bob.connected_to("alice").await?;
    assert_eq!(alice_sees, bob_session);
    assert_eq!(bob_sees, alice_session);
    Ok((alice, bob))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_joiners_connect_and_a_stdin_line_arrives_as_a_message() -> anyhow::Result<()> {
    let server = start_server(ServerConfig::default()).await;
    let (mut alice, mut bob) = two_joiners(&server, &[], &[]).await?;
    let joined = alice.expect_event("joined", Duration::ZERO).await;
    assert!(joined.is_err(), "joined is reported once");

    let line = "hello from alice — ünïcode ✓";
    alice.type_line(line).await;
    let message = bob.expect_event("message", MESSAGE_TIMEOUT).await?;
    assert_eq!(message["text"], line);
    assert_eq!(message["client_id"], "alice");
    assert_eq!(message["size"], line.len());
    assert_eq!(message["sha256"], sha256_hex(line.as_bytes()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_sends_every_message_back_to_its_sender() -> anyhow::Result<()> {
    let server = start_server(ServerConfig::default()).await;
    let (mut alice, mut bob) = two_joiners(&server, &[], &["--echo"]).await?;
    for line in ["first line", "second line"] {
        alice.type_line(line).await;
        let at_bob = bob.expect_event("message", MESSAGE_TIMEOUT).await?;
        assert_eq!(at_bob["text"], line);
        let echoed = alice.expect_event("message", MESSAGE_TIMEOUT).await?;
        assert_eq!(echoed["text"], line);
        assert_eq!(echoed["client_id"], "bobby");
        assert_eq!(echoed["sha256"], sha256_hex(line.as_bytes()));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_file_arrives_intact_in_the_peers_save_dir() -> anyhow::Result<()> {
    let server = start_server(ServerConfig::default()).await;
    let source_dir = temp_dir("src");
    let save_dir = temp_dir("save");
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let source = source_dir.join("three MB.bin");
    std::fs::write(&source, &data)?;
    // A file of the same name already there must not be overwritten.
    std::fs::write(save_dir.join("three MB.bin"), b"keep me")?;

    let source_arg = source.to_str().unwrap();
    let save_arg = save_dir.to_str().unwrap();
    let (mut alice, mut bob) = two_joiners(
        &server,
        &["--send-file", source_arg],
        &["--save-dir", save_arg],
    )
    .await?;

    let received = bob
        .expect_event("file_received", Duration::from_secs(60))
        .await?;
    assert_eq!(received["name"], "three MB.bin");
    assert_eq!(received["size"], data.len());
    assert_eq!(received["sha256"], sha256_hex(&data));
    assert_eq!(received["client_id"], "alice");
    let path = Path::new(received["path"].as_str().unwrap());
    assert_eq!(path, save_dir.join("three MB (1).bin"));
    let saved = std::fs::read(path)?;
    assert!(saved == data, "saved file differs from the original");
    assert_eq!(std::fs::read(save_dir.join("three MB.bin"))?, b"keep me");

    let progress = alice
        .expect_event("file_progress", Duration::from_secs(5))
        .await?;
    assert_eq!(progress["total"], data.len());
    assert_eq!(progress["name"], "three MB.bin");
    let sent = alice.expect_event("file_sent", MESSAGE_TIMEOUT).await?;
    assert_eq!(sent["sha256"], sha256_hex(&data));
    assert_eq!(sent["client_id"], "bobby");

    // Once per peer: no second copy shows up.
    let again = bob
        .expect_event("file_received", Duration::from_secs(2))
        .await;
    assert!(again.is_err(), "the file was sent twice: {again:?}");
    std::fs::remove_dir_all(source_dir)?;
    std::fs::remove_dir_all(save_dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_stdin_leaves_the_room_and_the_peer_sees_it_close() -> anyhow::Result<()> {
    let server = start_server(ServerConfig::default()).await;
    let (mut alice, mut bob) = two_joiners(&server, &[], &[]).await?;
    alice.close_stdin();
    alice.expect_event("left", MESSAGE_TIMEOUT).await?;
    let status = alice.exit_status(MESSAGE_TIMEOUT).await?;
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        alice.stderr()
    );
    let closed = bob.expect_event("peer_closed", MESSAGE_TIMEOUT).await?;
    assert_eq!(closed["client_id"], "alice");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_and_exits_zero() -> anyhow::Result<()> {
    let server = start_server(ServerConfig::default()).await;
    let (mut alice, mut bob) = two_joiners(&server, &[], &[]).await?;
    let pid = alice.child.id().context("alice pid")?;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(kill.success());
    alice.expect_event("left", MESSAGE_TIMEOUT).await?;
    let status = alice.exit_status(MESSAGE_TIMEOUT).await?;
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        alice.stderr()
    );
    let closed = bob.expect_event("peer_closed", MESSAGE_TIMEOUT).await?;
    assert_eq!(closed["client_id"], "alice");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signalling_errors_are_reported_as_unreachable_or_rejected() -> anyhow::Result<()> {
    // Nothing listens on a port we bound and released.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let mut lonely = Joiner::spawn(
        &format!("http://127.0.0.1:{closed_port}"),
        &room(),
        "solo",
        &[],
    );
    let error = lonely.expect_event("error", MESSAGE_TIMEOUT).await?;
    assert_eq!(error["kind"], "unreachable");
    assert!(error.get("status").is_none());

    // A server that refuses every request (a body limit below any poll).
    let strict = start_server(ServerConfig {
        max_body_bytes: 8,
        ..ServerConfig::default()
    })
    .await;
    let mut refused = Joiner::spawn(&strict.url, &room(), "solo", &[]);
    let error = refused.expect_event("error", MESSAGE_TIMEOUT).await?;
    assert_eq!(error["kind"], "rejected");
    let status = error["status"].as_u64().context("status")?;
    assert!((400..500).contains(&status), "{error}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_non_zero_with_a_message_before_joining() -> anyhow::Result<()> {
    let cases: &[(&[&str], &str)] = &[
        (&["abc"], "invalid room"),
        (&["bad/room"], "invalid room"),
        (&["room1", "--name", "abc"], "--name"),
        (&["room1", "--turn", "turn:127.0.0.1:3478"], "URL,USER,PASS"),
        (&["room1", "--stun", "127.0.0.1:3478"], "--stun"),
        (&["room1", "--worker", "not a url"], "--worker"),
        (
            &["room1", "--send-file", "/nonexistent/p2pcf-file"],
            "--send-file",
        ),
        (
            &["room1", "--max-message-size", "100", "--send-file", BIN],
            "too large",
        ),
        (&["room1", "--video", "webcam"], "invalid --video"),
        (
            &["room1", "--video", "test-pattern", "--video-size", "10x10"],
            "invalid --video-size",
        ),
        (
            &["room1", "--video", "test-pattern", "--fps", "0"],
            "invalid --fps",
        ),
        // No camera on the test machines (listing /dev/video* finds none).
        (&["room1", "--video", "camera"], "no camera found"),
        (
            &["room1", "--video", "camera:/dev/video-missing"],
            "/dev/video-missing",
        ),
    ];
    for (args, expected) in cases {
        let output = timeout(
            Duration::from_secs(10),
            Command::new(BIN)
                .arg("join")
                .args(*args)
                .env("P2PCF_WORKER", "http://127.0.0.1:9")
                .stdin(Stdio::null())
                .output(),
        )
        .await
        .with_context(|| format!("{args:?} did not exit"))??;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_test_pattern_is_reported_by_the_receiving_joiner() -> anyhow::Result<()> {
    let server = start_server(ServerConfig::default()).await;
    let (mut alice, mut bob) = two_joiners(&server, &["--video", "test-pattern"], &[]).await?;
    let started = bob.expect_event("track_started", CONNECT_TIMEOUT).await?;
    assert_eq!(started["client_id"], "alice");
    assert_eq!(started["kind"], "video");
    // Two consecutive reports with decoded frames of the pattern, its stamp advancing.
    let mut stamps = Vec::new();
    while stamps.len() < 3 {
        let stats = bob
            .expect("video_stats with frames", CONNECT_TIMEOUT, |v| {
                v["event"] == "video_stats" && v["frames"].as_u64().unwrap_or(0) > 0
            })
            .await?;
        assert_eq!(
            (stats["width"].as_u64(), stats["height"].as_u64()),
            (Some(640), Some(480))
        );
        if let Some(frame) = stats["stamp_frame"].as_u64() {
            stamps.push((frame, stats["fps"].as_f64().unwrap_or(0.0)));
        }
    }
    assert!(stamps.windows(2).all(|w| w[1].0 > w[0].0), "{stamps:?}");
    assert!(stamps[2].1 >= 10.0, "decoded fps {stamps:?}");
    // Alice leaves: Bob's track ends.
    alice.close_stdin();
    let ended = bob.expect_event("track_ended", CONNECT_TIMEOUT).await?;
    assert!(ended["frames"].as_u64().unwrap_or(0) >= 30, "{ended}");
    Ok(())
}
