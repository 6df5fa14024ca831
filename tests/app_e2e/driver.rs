//! Drives the real desktop app window: Xvfb for a display, `WebKitWebDriver` (Debian package
//! `webkit2gtk-driver`) started per app instance on its own port, and the W3C WebDriver HTTP API
//! spoken directly with reqwest. This is what `tauri-driver` does on Linux (it only rewrites
//! `tauri:options` into `webkitgtk:browserOptions`), without one more binary to install.
//!
//! Each instance gets its own XDG config/data/cache directories, so its settings store and
//! WebKit data never meet another instance's.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::time::Instant;

#[path = "x11.rs"]
mod x11;

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The WebDriver "Enter" key.
pub const ENTER: &str = "\u{E007}";

/// The app binary, built by `cargo build -p p2pcf-app` (done here when missing, so the test can
/// run on its own; CI builds it in scripts/test.sh before the tests).
pub fn app_binary() -> anyhow::Result<PathBuf> {
    // Measurements point this at the release binary or the installed one.
    if let Some(binary) = std::env::var_os("P2PCF_APP_BINARY") {
        return Ok(PathBuf::from(binary));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("debug").join("p2pcf-app");
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "p2pcf-app"])
            .current_dir(&root)
            .status()
            .context("running cargo build -p p2pcf-app")?;
        if !status.success() || !binary.exists() {
            bail!(
                "cargo build -p p2pcf-app failed; {} missing",
                binary.display()
            );
        }
    }
    Ok(binary)
}

/// A private X display (Xvfb), killed on drop.
pub struct Display {
    child: Child,
    pub name: String,
}

impl Display {
    pub async fn start() -> anyhow::Result<Self> {
        for _ in 0..50 {
            let n = 100 + rand::random::<u32>() % 800;
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .arg(format!(":{n}"))
                .args(["-screen", "0", "1920x1080x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("spawning Xvfb (apt-get install xvfb)")?;
            let socket = format!("/tmp/.X11-unix/X{n}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&socket).exists() {
                    return Ok(Self {
                        child,
                        name: format!(":{n}"),
                    });
                }
                if child.try_wait()?.is_some() {
                    break; // display taken meanwhile: try another number
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill().await;
        }
        bail!("could not start Xvfb")
    }
}

impl Display {
    /// Writes the whole screen to `path` in XWD format (`xwd` from Debian's x11-apps).
    pub async fn capture_xwd(&self, path: &Path) -> anyhow::Result<()> {
        let status = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.name, "-out"])
            .arg(path)
            .status()
            .await
            .context("running xwd (apt-get install x11-apps)")?;
        if !status.success() {
            bail!("xwd failed: {status}");
        }
        Ok(())
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Fresh per-instance home: XDG config/data/cache dirs and a Downloads dir.
pub fn instance_home(label: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "p2pcf-app-e2e-{label}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    for sub in ["config", "data", "cache", "Downloads"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(dir)
}

/// Writes the app's settings store (what the settings screen saves) before the app starts.
pub fn write_settings(home: &Path, settings: Value) -> anyhow::Result<()> {
    let dir = home.join("data").join("dev.p2pcf.desktop");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("settings.json"),
        serde_json::to_vec_pretty(&json!({ "settings": settings }))?,
    )?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A free TCP port on 127.0.0.1 (for the embedded server).
pub fn unused_port() -> anyhow::Result<u16> {
    free_port()
}

/// One running app instance under WebDriver control.
pub struct App {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    pub label: String,
}

impl App {
    /// Starts WebKitWebDriver and, through a new session, the app with `home` as its XDG dirs.
    pub async fn launch(display: &Display, home: &Path, label: &str) -> anyhow::Result<Self> {
        let binary = app_binary()?;
        let port = free_port()?;
        let driver = Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .env("DISPLAY", &display.name)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_DOWNLOAD_DIR", home.join("Downloads"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("TAURI_AUTOMATION", "true")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("RUST_LOG", "warn,p2pcf_app_lib=info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawning WebKitWebDriver (apt-get install webkit2gtk-driver)")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("WebKitWebDriver did not answer on {base}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "webkitgtk:browserOptions": { "binary": binary, "args": [] }
            }}
        });
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let session = response["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("new session failed: {response}"))?
            .to_owned();
        let app = Self {
            driver,
            http,
            base,
            session,
            label: label.to_owned(),
        };
        // The page is ready once main.js ran (the join screen is shown).
        app.wait_until(
            "join screen",
            Duration::from_secs(30),
            "return !document.getElementById('join-screen').classList.contains('hidden')",
        )
        .await?;
        Ok(app)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| url.clone())?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("[{}] {path}: {status} {value}", self.label);
        }
        Ok(value["value"].clone())
    }

    async fn element(&self, css: &str) -> anyhow::Result<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        v[ELEMENT_KEY]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("[{}] no element {css}", self.label))
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await?;
        Ok(())
    }

    /// Types `text` into the element (keys, as a user would).
    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await?;
        Ok(())
    }

    pub async fn clear(&self, css: &str) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            json!({}),
        )
        .await?;
        Ok(())
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn execute(&self, script: &str) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// The visible text of the first element matching `css` ("" when none).
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.innerText : '';",
            serde_json::to_string(css)?
        );
        Ok(self
            .execute(&script)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn value(&self, css: &str) -> anyhow::Result<String> {
        let script = format!(
            "return document.querySelector({}).value;",
            serde_json::to_string(css)?
        );
        Ok(self
            .execute(&script)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Waits until `script` returns true.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.execute(script).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(_) => {}
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => {}
            }
            if Instant::now() > deadline {
                let status = self.text("#status").await.unwrap_or_default();
                let messages = self.text("#messages").await.unwrap_or_default();
                bail!(
                    "[{}] timed out waiting for {what}; status {status:?}; messages {messages:?}",
                    self.label
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until the element's text contains `needle`.
    pub async fn wait_for_text(
        &self,
        css: &str,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let script = format!(
            "const e = document.querySelector({}); return !!e && e.innerText.includes({});",
            serde_json::to_string(css)?,
            serde_json::to_string(needle)?
        );
        self.wait_until(&format!("{needle:?} in {css}"), timeout, &script)
            .await
    }

    /// Fills the join screen and presses Join; waits for the room screen.
    pub async fn join(&self, room: &str, name: &str) -> anyhow::Result<()> {
        self.type_into("#room-input", room).await?;
        self.type_into("#name-input", name).await?;
        self.click("#join-button").await?;
        self.wait_for_text(
            "#session-label",
            &format!("@{room}:"),
            Duration::from_secs(30),
        )
        .await
    }

    /// Types a chat line and presses Enter.
    pub async fn say(&self, text: &str) -> anyhow::Result<()> {
        self.type_into("#message-input", &format!("{text}{ENTER}"))
            .await
    }

    /// Moves and resizes the window (WebDriver "Set Window Rect").
    pub async fn set_rect(&self, x: i32, y: i32, width: u32, height: u32) -> anyhow::Result<()> {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({"x": x, "y": y, "width": width, "height": height}),
        )
        .await?;
        Ok(())
    }

    /// The app process WebKitWebDriver started for this session (a descendant of the driver).
    pub fn app_pid(&self) -> anyhow::Result<u32> {
        let driver = self.driver.id().context("WebKitWebDriver already exited")?;
        let mut parents = vec![driver];
        while let Some(parent) = parents.pop() {
            for (pid, ppid) in processes()? {
                if ppid != parent {
                    continue;
                }
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
                if exe.file_name().is_some_and(|n| n == "p2pcf-app") {
                    return Ok(pid);
                }
                parents.push(pid);
            }
        }
        bail!(
            "[{}] no p2pcf-app process under WebKitWebDriver",
            self.label
        )
    }

    /// Closes the app window as a user does (the window manager's close button: an X11
    /// WM_DELETE_WINDOW message); returns the app's pid.
    pub async fn close_window(&self, display: &Display) -> anyhow::Result<u32> {
        let pid = self.app_pid()?;
        let name = display.name.clone();
        let asked =
            tokio::task::spawn_blocking(move || x11::close_windows_of(&name, pid)).await??;
        if asked == 0 {
            bail!("[{}] no visible window of process {pid}", self.label);
        }
        Ok(pid)
    }

    /// Ends the session (the app window closes and the app exits), then the driver.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self
            .http
            .delete(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let _ = self.driver.kill().await;
        Ok(())
    }
}

/// Every process as (pid, parent pid), from /proc.
fn processes() -> anyhow::Result<Vec<(u32, u32)>> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some((_, ppid)) = stat_state(pid) {
            all.push((pid, ppid));
        }
    }
    Ok(all)
}

/// A process's state letter and parent pid from /proc/PID/stat (None when it is gone).
fn stat_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may contain spaces, so read after the last ')'.
    let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Waits until process `pid` has exited (gone, or a zombie its parent has not reaped yet).
pub async fn wait_for_exit(pid: u32, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match stat_state(pid) {
            None | Some(('Z' | 'X', _)) => return Ok(()),
            Some(_) if Instant::now() > deadline => {
                bail!("process {pid} still running after {timeout:?}")
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
