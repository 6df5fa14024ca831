//! Unmodified JS P2PCF (npm `p2pcf@1.3.14`) in headless Chromium reaches the server over
//! `https://` through the documented nginx recipe (TLS, self-signed certificate) in front of
//! three `p2pcf serve` instances sharing Debian's `redis-server`, and meets our Rust client,
//! which polls a different instance directly: all three peers connect and exchange messages.

use std::time::Duration;

use anyhow::{ensure, Context};
use p2pcf_tests::browser::{ev, BrowserPeers};
use p2pcf_tests::client::RustPeer;
use p2pcf_tests::cluster::{Instance, Redis, WorkDir};
use p2pcf_tests::cluster_proxy::{Certificate, Nginx};

const CONNECT: Duration = Duration::from_secs(60);
const MESSAGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_over_https_and_rust_meet_across_instances() -> anyhow::Result<()> {
    p2pcf_tests::init_logging();
    let dir = WorkDir::new("browser-tls")?;
    let redis = Redis::start(&dir).await?;
    let mut instances = Vec::new();
    for i in 1..=3 {
        let name = format!("p2pcf{i}");
        instances.push(Instance::start(&dir, &name, &["--store", &redis.url]).await?);
    }
    let cert = Certificate::generate(&dir)?;
    let upstreams: Vec<_> = instances.iter().map(|i| i.addr).collect();
    let nginx = Nginx::start(&dir, &upstreams, &cert).await?;

    // Chromium, as the harness launches it, plus trust for the test's certificate: the harness
    // takes the browser binary from $CHROMIUM (this test binary runs only this test).
    let wrapper = dir.join("chromium");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nexec /usr/bin/chromium --ignore-certificate-errors \"$@\"\n",
    )?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    }
    std::env::set_var("CHROMIUM", &wrapper);
    let mut browser = BrowserPeers::launch().await?;

    let room = format!("tls-{:08x}", rand::random::<u32>());
    let mut rust = RustPeer::join(&instances[2].url, &room, "rusty").await?;
    let a = browser.open("a", &nginx.url, &room, "js-a").await?;
    let b = browser.open("b", &nginx.url, &room, "js-b").await?;
    let rust_id = rust.session_id().to_string();

    let seen = rust.connected(2, CONNECT).await?;
    let mut seen_ids: Vec<String> = seen.iter().map(|(s, _)| s.to_string()).collect();
    seen_ids.sort();
    let mut js_ids = vec![a.session_id.clone(), b.session_id.clone()];
    js_ids.sort();
    ensure!(seen_ids == js_ids, "Rust connected to {seen_ids:?}");
    for (page, other) in [("a", &b.session_id), ("b", &a.session_id)] {
        browser
            .wait_for(ev("peerconnect", page).peer(&rust_id), CONNECT)
            .await?;
        browser
            .wait_for(ev("peerconnect", page).peer(other), CONNECT)
            .await?;
    }

    browser
        .send_text("a", Some(&rust_id), "over https via nginx ✓")
        .await?;
    let (from, data) = rust.message(MESSAGE).await?;
    ensure!(from.to_string() == a.session_id, "message from {from}");
    ensure!(std::str::from_utf8(&data)? == "over https via nginx ✓");
    let to_b = seen
        .iter()
        .find(|(s, _)| s.to_string() == b.session_id)
        .map(|(s, _)| s.clone())
        .context("b's session")?;
    rust.handle
        .send(&to_b, b"from rust, other instance".to_vec())
        .await?;
    let got = browser
        .wait_for(ev("msg", "b").peer(&rust_id), MESSAGE)
        .await?;
    ensure!(got["text"] == "from rust, other instance", "b got {got}");

    // The pages' requests really went through nginx over TLS (its access log).
    let access = std::fs::read_to_string(dir.join("nginx-access.log"))?;
    let from_chromium = access
        .lines()
        .filter(|l| l.contains("\"POST ") && l.contains("HeadlessChrome"))
        .count();
    println!("POSTs from Chromium through nginx (TLS): {from_chromium}");
    ensure!(
        from_chromium >= 4,
        "nginx saw {from_chromium} POSTs from Chromium"
    );

    rust.handle.leave().await;
    browser.quit().await?;
    drop(nginx);
    drop(instances);
    drop(redis);
    Ok(())
}
