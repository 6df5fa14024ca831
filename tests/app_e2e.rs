//! End-to-end tests of the desktop app's real window (Tauri + WebKitGTK) under Xvfb, driven
//! through WebDriver (see `app_e2e/driver.rs`): two app instances chat through the embedded
//! server and show each other's connection state, a file goes from one to the other with a
//! progress bar, closing a window makes the app leave and exit, settings survive a restart, a bad
//! worker URL is refused, an unreachable worker shows a retrying status, the app chats with
//! unmodified JS P2PCF in Chromium, and video goes between instances and to and from Chromium
//! (`app_e2e/video.rs`).
//!
//! No public STUN/TURN: every instance is given empty ICE server lists (host candidates only).
//! Each instance saves received files in its own `home/Downloads` (the `downloadDir` setting).
//!
//! The file picker is a native GTK dialog WebDriver cannot reach, so the file tests call the
//! same backend command the picker's result goes to, `send_file` with a path, through
//! `window.__TAURI__.core.invoke` from the page (what the UI's "Send file…" and drag-and-drop do
//! after choosing the path).

#[path = "app_e2e/driver.rs"]
mod driver;
#[path = "conformance/fixtures.rs"]
mod fixtures;
#[path = "app_e2e/video.rs"]
mod video;

use std::path::Path;
use std::time::Duration;

use driver::{instance_home, unused_port, wait_for_exit, write_settings, App, Display};
use p2pcf_tests::browser::{ev, BrowserPeers};
use p2pcf_tests::server::TestServer;
use serde_json::{json, Value};

const CONNECT: Duration = Duration::from_secs(60);
const MESSAGE: Duration = Duration::from_secs(20);
/// "Within a few seconds": how long a closed peer may take to disappear, and its app to exit.
const LEAVE: Duration = Duration::from_secs(10);

/// Settings for tests: loopback-only ICE (no public servers), fast polling, received files in
/// `home/Downloads`.
fn local_settings(home: &Path, mode: &str, worker_url: &str, port: u16) -> Value {
    json!({
        "signalling": mode,
        "workerUrl": worker_url,
        "stunServers": [],
        "turnServers": [],
        "fastPollingRateMs": 500,
        "slowPollingRateMs": 1000,
        "port": port,
        "lan": false,
        "downloadDir": home.join("Downloads")
    })
}

fn room() -> String {
    format!("app-e2e-{}", rand::random::<u32>())
}

/// Two instances with their own homes, both set to the embedded server on one free port (the
/// first to join starts it, the other reuses it).
async fn launch_pair(
    display: &Display,
    home_a: &Path,
    home_b: &Path,
) -> anyhow::Result<(App, App)> {
    let port = unused_port()?;
    for home in [home_a, home_b] {
        write_settings(
            home,
            local_settings(home, "embedded", "https://unused.example", port),
        )?;
    }
    let a = App::launch(display, home_a, "alice").await?;
    let b = App::launch(display, home_b, "bob").await?;
    Ok((a, b))
}

/// JS expression: the peers-list entry for display name `name` (or undefined).
fn peer_entry(name: &str) -> anyhow::Result<String> {
    Ok(format!(
        "[...document.querySelectorAll('#peers li')].find((l) => l.dataset.name === {})",
        serde_json::to_string(name)?
    ))
}

/// Waits until the peers list shows `name` in `state` (connecting, connected, failed).
async fn wait_for_peer_state(
    app: &App,
    name: &str,
    state: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let script = format!(
        "const e = {}; return !!e && e.dataset.state === {};",
        peer_entry(name)?,
        serde_json::to_string(state)?
    );
    app.wait_until(
        &format!("{name} {state} in the peers list"),
        timeout,
        &script,
    )
    .await
}

/// Records every backend event the page receives in `window.__events` (from now on).
async fn record_events(app: &App) -> anyhow::Result<()> {
    app.execute(
        "window.__events = []; \
         return window.__TAURI__.event.listen('p2pcf://event', (e) => window.__events.push(e.payload)).then(() => true);",
    )
    .await?;
    Ok(())
}

async fn recorded_events(app: &App) -> anyhow::Result<Vec<Value>> {
    let events = app.execute("return window.__events;").await?;
    Ok(events.as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_app_instances_chat_through_the_embedded_server() -> anyhow::Result<()> {
    let display = Display::start().await?;
    let (home_a, home_b) = (instance_home("a")?, instance_home("b")?);
    let (a, b) = launch_pair(&display, &home_a, &home_b).await?;
    let room = room();
    // A starts the embedded server; B finds it on the port and uses it.
    a.join(&room, "alice-app").await?;
    b.join(&room, "bob-app").await?;
    wait_for_peer_state(&a, "bob-app", "connected", CONNECT).await?;
    wait_for_peer_state(&b, "alice-app", "connected", CONNECT).await?;
    a.wait_for_text("#status", "1 peer connected", MESSAGE)
        .await?;

    a.say("hello from alice").await?;
    b.wait_for_text("#messages", "alice-app: hello from alice", MESSAGE)
        .await?;
    b.say("hi alice, bob here").await?;
    a.wait_for_text("#messages", "bob-app: hi alice, bob here", MESSAGE)
        .await?;
    // The sender's own line is shown too, and the input was cleared by Enter.
    a.wait_for_text("#messages", "alice-app: hello from alice", MESSAGE)
        .await?;
    assert_eq!(a.value("#message-input").await?, "");

    // Docs screenshot (not in CI): both windows side by side, the whole screen as XWD.
    if let Ok(path) = std::env::var("P2PCF_SCREENSHOT_XWD") {
        a.set_rect(0, 0, 940, 640).await?;
        b.set_rect(960, 0, 940, 640).await?;
        tokio::time::sleep(Duration::from_millis(800)).await;
        display.capture_xwd(std::path::Path::new(&path)).await?;
    }

    // B leaves: A sees it go. (A owns the server, so B leaving does not stop signalling.)
    b.click("#leave-button").await?;
    a.wait_until(
        "bob gone from the peers list",
        CONNECT,
        "return !document.getElementById('peers').innerText.includes('bob-app')",
    )
    .await?;
    a.wait_for_text("#messages", "bob-app left", MESSAGE)
        .await?;
    a.quit().await?;
    b.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_settings_survive_an_app_restart() -> anyhow::Result<()> {
    let display = Display::start().await?;
    let home = instance_home("settings")?;
    let app = App::launch(&display, &home, "first-run").await?;
    app.click("#open-settings").await?;
    app.wait_for_text("#worker-url", "", MESSAGE).await?;
    app.click("input[name=signalling][value=worker]").await?;
    app.clear("#worker-url").await?;
    app.type_into("#worker-url", "https://my-worker.example.dev")
        .await?;
    app.clear("#slow-rate").await?;
    app.type_into("#slow-rate", "4321").await?;
    app.click("#save-settings").await?;
    app.wait_for_text("#settings-saved", "Saved", MESSAGE)
        .await?;
    app.quit().await?;

    let app = App::launch(&display, &home, "second-run").await?;
    app.click("#open-settings").await?;
    app.wait_until(
        "settings loaded",
        MESSAGE,
        "return document.getElementById('slow-rate').value !== ''",
    )
    .await?;
    assert_eq!(app.value("#slow-rate").await?, "4321");
    assert_eq!(
        app.value("#worker-url").await?,
        "https://my-worker.example.dev"
    );
    let mode = app
        .execute("return document.querySelector('input[name=signalling]:checked').value")
        .await?;
    assert_eq!(mode, "worker");

    // Restore defaults goes back to the embedded server and the JS polling rate.
    app.click("#restore-defaults").await?;
    app.wait_for_text("#settings-saved", "Defaults restored", MESSAGE)
        .await?;
    assert_eq!(app.value("#slow-rate").await?, "5000");
    app.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_worker_url_is_refused_and_unreachable_worker_shows_retrying() -> anyhow::Result<()> {
    let display = Display::start().await?;
    let home = instance_home("badurl")?;
    let app = App::launch(&display, &home, "badurl").await?;

    // Refused at save with a message; nothing saved, the app keeps working.
    app.click("#open-settings").await?;
    app.wait_until(
        "settings loaded",
        MESSAGE,
        "return document.getElementById('slow-rate').value !== ''",
    )
    .await?;
    app.click("input[name=signalling][value=worker]").await?;
    app.clear("#worker-url").await?;
    app.type_into("#worker-url", "ftp://not-a-worker").await?;
    app.click("#save-settings").await?;
    app.wait_for_text("#settings-errors", "workerUrl", MESSAGE)
        .await?;
    assert!(app.text("#settings-errors").await?.contains("http://"));
    assert_eq!(app.text("#settings-saved").await?, "");
    let stored = app
        .execute("return window.__TAURI__.core.invoke('get_settings')")
        .await?;
    assert_eq!(
        stored["signalling"], "embedded",
        "nothing was half-saved: {stored}"
    );

    // A well-formed URL where nothing listens: joining works, the status says unreachable.
    let dead_port = unused_port()?;
    app.clear("#worker-url").await?;
    app.type_into("#worker-url", &format!("http://127.0.0.1:{dead_port}"))
        .await?;
    app.clear("#stun").await?;
    app.clear("#turn").await?;
    app.click("#save-settings").await?;
    app.wait_for_text("#settings-saved", "Saved", MESSAGE)
        .await?;
    app.click("#close-settings").await?;
    app.join(&room(), "lonely-app").await?;
    app.wait_for_text("#status", "unreachable", CONNECT).await?;
    // Still responsive: leave and get back to the join screen.
    app.click("#leave-button").await?;
    app.wait_until(
        "join screen",
        MESSAGE,
        "return !document.getElementById('join-screen').classList.contains('hidden')",
    )
    .await?;

    // Join validation: a clear message, no join.
    app.clear("#room-input").await?;
    app.type_into("#room-input", "a b").await?;
    app.click("#join-button").await?;
    app.wait_for_text("#join-error", "at least 4 characters", MESSAGE)
        .await?;
    app.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_chats_with_js_p2pcf_in_chromium() -> anyhow::Result<()> {
    let server = TestServer::start(Default::default()).await?;
    let display = Display::start().await?;
    let home = instance_home("browser")?;
    write_settings(&home, local_settings(&home, "worker", &server.url, 8787))?;
    let app = App::launch(&display, &home, "app").await?;
    let room = room();
    app.join(&room, "desktop-app").await?;

    let mut browser = BrowserPeers::launch().await?;
    let page = browser.open("js", &server.url, &room, "js-page").await?;
    wait_for_peer_state(&app, "js-page", "connected", CONNECT).await?;
    browser.wait_for(ev("peerconnect", "js"), CONNECT).await?;

    app.say("hello javascript").await?;
    let msg = browser.wait_for(ev("msg", "js"), MESSAGE).await?;
    assert_eq!(msg["text"], "hello javascript", "{msg}");
    browser.send_text("js", None, "hello desktop").await?;
    app.wait_for_text("#messages", "js-page: hello desktop", MESSAGE)
        .await?;
    let _ = page;
    browser.quit().await?;
    app.quit().await?;
    server.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_instances_show_the_other_connecting_then_connected() -> anyhow::Result<()> {
    let display = Display::start().await?;
    let (home_a, home_b) = (instance_home("state-a")?, instance_home("state-b")?);
    let (a, b) = launch_pair(&display, &home_a, &home_b).await?;
    record_events(&a).await?;
    record_events(&b).await?;
    let room = room();
    a.join(&room, "alice-app").await?;
    b.join(&room, "bob-app").await?;
    wait_for_peer_state(&a, "bob-app", "connected", CONNECT).await?;
    wait_for_peer_state(&b, "alice-app", "connected", CONNECT).await?;

    for (app, other) in [(&a, "bob-app"), (&b, "alice-app")] {
        // What the user sees: the name, the state in words, no failure detail.
        let entry = app
            .execute(&format!(
                "const e = {}; return [e.querySelector('.peer-name').innerText, \
                 e.querySelector('.peer-state').innerText, \
                 e.querySelector('.peer-detail').innerText, \
                 document.querySelectorAll('#peers li').length];",
                peer_entry(other)?
            ))
            .await?;
        assert_eq!(entry, json!([other, "connected", "", 1]), "[{}]", app.label);
        // The backend reported the setup first, then the open connection, for that peer.
        let events = recorded_events(app).await?;
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == other)
            .filter_map(|e| e["type"].as_str())
            .collect();
        let connecting = kinds.iter().position(|k| *k == "peerConnecting");
        let connected = kinds.iter().position(|k| *k == "peerConnected");
        assert!(
            matches!((connecting, connected), (Some(c), Some(d)) if c < d),
            "[{}] peer events {kinds:?}",
            app.label
        );
        assert!(!kinds.contains(&"peerFailed"), "[{}] {kinds:?}", app.label);
    }
    a.wait_for_text("#status", "1 peer connected", MESSAGE)
        .await?;
    b.wait_for_text("#status", "1 peer connected", MESSAGE)
        .await?;
    a.quit().await?;
    b.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sent_from_one_instance_arrives_intact_with_a_full_progress_bar() -> anyhow::Result<()>
{
    const SIZE: usize = 4 * 1024 * 1024 + 123;
    let display = Display::start().await?;
    let (home_a, home_b) = (instance_home("file-a")?, instance_home("file-b")?);
    let (a, b) = launch_pair(&display, &home_a, &home_b).await?;
    let room = room();
    a.join(&room, "alice-app").await?;
    b.join(&room, "bob-app").await?;
    wait_for_peer_state(&a, "bob-app", "connected", CONNECT).await?;
    wait_for_peer_state(&b, "alice-app", "connected", CONNECT).await?;

    let outbox = home_a.join("outbox");
    std::fs::create_dir_all(&outbox)?;
    let source = outbox.join("holiday photos.bin");
    let bytes = p2pcf_tests::browser::seeded_bytes(SIZE, 4242);
    std::fs::write(&source, &bytes)?;
    let want_sha = p2pcf_tests::browser::sha256_hex(&bytes);

    record_events(&a).await?;
    // The command the file picker's choice goes to (see the module docs).
    let ids = a
        .execute(&format!(
            "return window.__TAURI__.core.invoke('send_file', {{ path: {} }});",
            serde_json::to_string(&source)?
        ))
        .await?;
    let ids = ids.as_array().cloned().unwrap_or_default();
    assert_eq!(ids.len(), 1, "one transfer per connected peer: {ids:?}");
    let transfer = format!("#transfer-{}", ids[0]);

    // The sender's progress bar fills to 100 % and says so.
    a.wait_until(
        "the transfer to finish",
        CONNECT,
        &format!(
            "const r = document.querySelector({}); return !!r && r.dataset.state === 'done';",
            serde_json::to_string(&transfer)?
        ),
    )
    .await?;
    let bar = a
        .execute(&format!(
            "const r = document.querySelector({}); const p = r.querySelector('progress'); \
             return [p.value, p.max, r.dataset.percent, r.innerText];",
            serde_json::to_string(&transfer)?
        ))
        .await?;
    assert_eq!(bar[0], json!(SIZE), "{bar}");
    assert_eq!(bar[1], json!(SIZE), "{bar}");
    assert_eq!(bar[2], "100", "{bar}");
    let text = bar[3].as_str().unwrap_or_default();
    assert!(
        text.contains("holiday photos.bin → bob-app: 100 %") && text.contains("sent"),
        "{text:?}"
    );
    // The bar was driven by progress events that only grew and ended at the file size.
    let progress: Vec<u64> = recorded_events(&a)
        .await?
        .iter()
        .filter(|e| e["type"] == "fileProgress" && e["transferId"] == ids[0])
        .filter_map(|e| e["sent"].as_u64())
        .collect();
    assert!(!progress.is_empty(), "no progress events");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&(SIZE as u64)), "{progress:?}");

    // The receiver shows where it saved the file; the bytes are the same.
    b.wait_until(
        "the received file in the messages",
        CONNECT,
        "return !!document.querySelector('#messages li.file-received');",
    )
    .await?;
    let shown = b
        .execute(
            "const li = document.querySelector('#messages li.file-received'); \
             return [li.dataset.path, li.innerText];",
        )
        .await?;
    let saved = std::path::PathBuf::from(shown[0].as_str().unwrap_or_default());
    let line = shown[1].as_str().unwrap_or_default();
    assert!(
        line.contains("alice-app: sent holiday photos.bin")
            && line.contains(&format!("saved to {}", saved.display())),
        "{line:?}"
    );
    assert_eq!(saved.parent(), Some(home_b.join("Downloads").as_path()));
    assert_eq!(
        saved.file_name().and_then(|n| n.to_str()),
        Some("holiday photos.bin")
    );
    let received = std::fs::read(&saved)?;
    assert_eq!(received.len(), SIZE);
    assert_eq!(p2pcf_tests::browser::sha256_hex(&received), want_sha);
    // Nothing landed in the sender's own download folder.
    assert_eq!(std::fs::read_dir(home_a.join("Downloads"))?.count(), 0);
    a.quit().await?;
    b.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_window_leaves_the_room_and_exits_the_app() -> anyhow::Result<()> {
    let display = Display::start().await?;
    let (home_a, home_b) = (instance_home("close-a")?, instance_home("close-b")?);
    let (a, b) = launch_pair(&display, &home_a, &home_b).await?;
    let room = room();
    // A runs the server; B (the one closed) uses it, so A keeps its signalling.
    a.join(&room, "alice-app").await?;
    b.join(&room, "bob-app").await?;
    wait_for_peer_state(&a, "bob-app", "connected", CONNECT).await?;
    wait_for_peer_state(&b, "alice-app", "connected", CONNECT).await?;

    let closed_at = tokio::time::Instant::now();
    let pid = b.close_window(&display).await?;
    a.wait_until(
        "bob gone from the peers list",
        LEAVE,
        &format!("return {} === undefined;", peer_entry("bob-app")?),
    )
    .await?;
    a.wait_for_text("#messages", "bob-app left", MESSAGE)
        .await?;
    let seen_after = closed_at.elapsed();
    wait_for_exit(pid, LEAVE).await?;
    eprintln!(
        "peer left after {seen_after:?}, app exited after {:?}",
        closed_at.elapsed()
    );
    a.wait_for_text("#status", "Connected, waiting for peers", MESSAGE)
        .await?;
    b.quit().await?;
    a.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_peer_shows_the_reason_then_goes_away() -> anyhow::Result<()> {
    // How long the UI keeps a failed entry (FAILED_PEER_LINGER_MS in ui/main.js).
    const LINGER: Duration = Duration::from_secs(30);
    let server = TestServer::start(Default::default()).await?;
    let display = Display::start().await?;
    let home = instance_home("failed")?;
    write_settings(&home, local_settings(&home, "worker", &server.url, 8787))?;
    let app = App::launch(&display, &home, "app").await?;
    record_events(&app).await?;
    let room = room();
    app.join(&room, "desktop-app").await?;

    // A peer that publishes its entry (loopback address only) and never answers: the app
    // starts connecting to it. Then it leaves before any connection: the setup fails, and P2PCF
    // does not retry a peer that is gone.
    let mut ghost = fixtures::Peer::new("ghost");
    ghost.client = "ghost-peer".into();
    ghost.ips = vec!["127.0.0.1".into()];
    // Joined after the app: by P2PCF's role rule the app initiates (peer B).
    ghost.joined_at = fixtures::now_ms();
    let http = fixtures::http_client();
    let (status, body) = fixtures::post_json(
        &http,
        &server.url,
        &ghost.publish(&room, fixtures::now_ms(), json!([])),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let delete_key = serde_json::from_str::<Value>(&body)?["dk"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no delete key in {body}"))?;
    wait_for_peer_state(&app, "ghost-peer", "connecting", CONNECT).await?;
    let state = app
        .execute(&format!("return {}.innerText;", peer_entry("ghost-peer")?))
        .await?;
    assert!(
        state.as_str().unwrap_or_default().contains("connecting"),
        "{state}"
    );
    let left = http
        .post(&server.url)
        .header("content-type", "application/json")
        .header("x-worker-method", "DELETE")
        .body(
            ghost
                .leave(&room, fixtures::now_ms(), &delete_key)
                .to_string(),
        )
        .send()
        .await?;
    assert!(left.status().is_success(), "leave: {}", left.status());

    wait_for_peer_state(&app, "ghost-peer", "failed", CONNECT).await?;
    let failed_at = tokio::time::Instant::now();
    let reason = recorded_events(&app)
        .await?
        .iter()
        .rev()
        .find(|e| e["type"] == "peerFailed" && e["name"] == "ghost-peer")
        .and_then(|e| e["reason"].as_str().map(str::to_owned))
        .ok_or_else(|| anyhow::anyhow!("no peerFailed event"))?;
    assert!(!reason.is_empty());
    eprintln!("the app reported: {reason}");
    let shown = app
        .execute(&format!(
            "const e = {}; return [e.querySelector('.peer-state').innerText,              e.querySelector('.peer-detail').innerText, e.title];",
            peer_entry("ghost-peer")?
        ))
        .await?;
    assert_eq!(shown[0], "failed", "{shown}");
    assert_eq!(shown[1], reason.as_str(), "{shown}");
    assert!(
        shown[2].as_str().unwrap_or_default().contains(&reason),
        "{shown}"
    );
    app.wait_for_text(
        "#messages",
        &format!("Connection to ghost-peer failed: {reason}"),
        MESSAGE,
    )
    .await?;
    // The peer is gone from the room and not retried: the entry goes after the linger time.
    app.wait_until(
        "the failed entry to go",
        LINGER + CONNECT,
        &format!("return {} === undefined;", peer_entry("ghost-peer")?),
    )
    .await?;
    let lingered = failed_at.elapsed();
    assert!(
        lingered >= LINGER - Duration::from_secs(2),
        "removed after {lingered:?}"
    );
    app.quit().await?;
    server.stop().await?;
    Ok(())
}

/// With the LAN option the room screen shows what a PeerJS web app on the network passes to
/// `new Peer(...)`, and the embedded server answers PeerJS on that port and path. (The LAN option
/// binds 0.0.0.0; the test itself only talks to 127.0.0.1.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lan_option_shows_the_peerjs_options_and_serves_peerjs() -> anyhow::Result<()> {
    let display = Display::start().await?;
    let home = instance_home("peerjs-lan")?;
    let port = unused_port()?;
    let mut settings = local_settings(&home, "embedded", "https://unused.example", port);
    settings["lan"] = json!(true);
    write_settings(&home, settings)?;
    let app = App::launch(&display, &home, "lan").await?;
    app.join(&room(), "lan-app").await?;
    let expected = format!("port: {port}, path: '/peerjs/'}})");
    app.wait_for_text("#peerjs-lan", &expected, MESSAGE).await?;
    let shown = app
        .execute("return document.getElementById('peerjs-lan').innerText")
        .await?;
    let shown = shown.as_str().unwrap_or_default().to_owned();
    assert!(
        shown.starts_with("PeerJS web apps on your network: new Peer({host: '"),
        "{shown}"
    );
    let id = reqwest::get(format!("http://127.0.0.1:{port}/peerjs/peerjs/id"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    assert_eq!(
        id.len(),
        36,
        "a UUID from the embedded PeerJS endpoint: {id}"
    );
    app.quit().await?;
    Ok(())
}
