//! The Debian package `p2pcf-server`, built by the one command `packaging/build-deb.sh` (here
//! from the debug binary cargo built, `--binary`, compressed with gzip, not xz, to take a second
//! instead of half a minute; by default it makes the release build) and
//! inspected with `dpkg-deb`: control fields and maintainer scripts, the exact file list, the
//! unit (checked by `systemd-analyze verify` and rated by `systemd-analyze security --offline`),
//! the packaged binary started the way the unit starts it, with the packaged config, and an
//! install, remove and purge with `dpkg --root` into the test's own directory (its own dpkg
//! database; maintainer scripts run chrootless and leave systemd alone under `DPKG_ROOT`) — never
//! into this machine's `/`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context};
use p2pcf_tests::cluster::{p2pcf_binary, workspace_root, Instance, WorkDir};

/// Runs a command; its stdout, or an error with its output.
fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

const FILES: [&str; 7] = [
    "./etc/p2pcf/server.toml",
    "./lib/systemd/system/p2pcf-server.service",
    "./usr/bin/p2pcf",
    "./usr/share/doc/p2pcf-server/copyright",
    "./usr/share/doc/p2pcf-server/deploy.md",
    "./usr/share/doc/p2pcf-server/examples/haproxy-p2pcf.cfg",
    "./usr/share/doc/p2pcf-server/examples/nginx-p2pcf.conf",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_holds_the_binary_the_sandboxed_unit_and_the_config() -> anyhow::Result<()> {
    let dir = WorkDir::new("deb")?;
    let root = workspace_root()?;
    let built = run(Command::new(root.join("packaging/build-deb.sh"))
        .arg("--binary")
        .arg(p2pcf_binary()?)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--compress", "gzip"]))?;
    let deb = built
        .lines()
        .last()
        .context("build-deb.sh printed no path")?;
    let size = std::fs::metadata(deb)?.len();
    println!("{deb}: {:.1} MiB", size as f64 / (1024.0 * 1024.0));

    // Control fields.
    let arch = run(Command::new("dpkg").arg("--print-architecture"))?;
    let field = |name: &str| run(Command::new("dpkg-deb").args(["-f", deb, name]));
    ensure!(field("Package")?.trim() == "p2pcf-server");
    ensure!(field("Version")?.trim() == env!("CARGO_PKG_VERSION"));
    ensure!(field("Architecture")?.trim() == arch.trim());
    let depends = field("Depends")?;
    ensure!(
        depends.contains("libc6 (>="),
        "Depends from dpkg-shlibdeps: {depends}"
    );
    let info = run(Command::new("dpkg-deb").args(["-I", deb]))?;
    for member in ["control", "conffiles", "postinst", "prerm", "postrm"] {
        ensure!(
            info.contains(&format!(" {member}")),
            "no {member} in:\n{info}"
        );
    }

    // Exactly these files, owned by root, the binary executable.
    let listing = run(Command::new("dpkg-deb").args(["-c", deb]))?;
    let mut files = Vec::new();
    for line in listing.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(mode), Some(owner), Some(path)) = (cols.first(), cols.get(1), cols.last()) else {
            bail!("unexpected dpkg-deb -c line {line}");
        };
        ensure!(*owner == "root/root", "{path} owned by {owner}");
        if mode.starts_with('-') {
            files.push(*path);
            let want = if *path == "./usr/bin/p2pcf" {
                "-rwxr-xr-x"
            } else {
                "-rw-r--r--"
            };
            ensure!(*mode == want, "{path} has mode {mode}");
        }
    }
    files.sort_unstable();
    ensure!(files == FILES, "files in the package: {files:?}");

    // The files are the repository's.
    let x = dir.join("root");
    run(Command::new("dpkg-deb").args(["-x", deb]).arg(&x))?;
    let ctrl = dir.join("control");
    run(Command::new("dpkg-deb").args(["-e", deb]).arg(&ctrl))?;
    ensure!(std::fs::read_to_string(ctrl.join("conffiles"))? == "/etc/p2pcf/server.toml\n");
    for script in ["postinst", "prerm", "postrm"] {
        run(Command::new("sh").arg("-n").arg(ctrl.join(script)))?;
    }
    let same = |packaged: &str, source: &str| -> anyhow::Result<()> {
        ensure!(
            std::fs::read(x.join(packaged))? == std::fs::read(root.join(source))?,
            "{packaged} differs from {source}"
        );
        Ok(())
    };
    same("etc/p2pcf/server.toml", "packaging/server.toml")?;
    same(
        "lib/systemd/system/p2pcf-server.service",
        "packaging/p2pcf-server.service",
    )?;
    same(
        "usr/share/doc/p2pcf-server/examples/nginx-p2pcf.conf",
        "packaging/nginx-p2pcf.conf",
    )?;

    check_unit(&dir, &x)?;
    serve_as_the_unit_does(&dir, &x).await?;
    install_remove_purge(&dir, deb)
}

/// `dpkg --root=DIR` install, remove (the edited conffile stays) and purge (nothing stays).
fn install_remove_purge(dir: &WorkDir, deb: &str) -> anyhow::Result<()> {
    let root = dir.join("dpkg-root");
    let admin = root.join("var/lib/dpkg");
    for sub in ["updates", "info", "triggers"] {
        std::fs::create_dir_all(admin.join(sub))?;
    }
    std::fs::write(admin.join("status"), "")?;
    std::fs::write(admin.join("available"), "")?;
    let dpkg = |args: &[&str]| {
        let mut cmd = Command::new("dpkg");
        cmd.arg(format!("--root={}", root.display()))
            .arg(format!("--log={}", dir.join("dpkg.log").display()))
            // The private database has no libc6 etc.; scripts run outside a chroot.
            .args(["--force-depends", "--force-script-chrootless"])
            .args(args);
        run(&mut cmd)
    };
    dpkg(&["-i", deb])?;
    let status = dpkg(&["-s", "p2pcf-server"])?;
    ensure!(status.contains("Status: install ok installed"), "{status}");
    for file in FILES {
        ensure!(root.join(file).is_file(), "{file} not installed");
    }
    let config = root.join("etc/p2pcf/server.toml");
    std::fs::write(&config, "bind = \"127.0.0.1:9999\"\n")?;
    dpkg(&["-r", "p2pcf-server"])?;
    ensure!(
        !root.join("usr/bin/p2pcf").exists(),
        "binary left after remove"
    );
    ensure!(
        std::fs::read_to_string(&config)? == "bind = \"127.0.0.1:9999\"\n",
        "the edited conffile did not survive remove"
    );
    dpkg(&["-P", "p2pcf-server"])?;
    let left: Vec<_> = FILES.iter().filter(|f| root.join(f).exists()).collect();
    ensure!(left.is_empty(), "left after purge: {left:?}");
    Ok(())
}

/// `systemd-analyze verify` (no warning at all) and the sandbox's exposure rating, with
/// `ExecStart` pointed at the extracted binary (verify requires it to exist).
fn check_unit(dir: &WorkDir, x: &Path) -> anyhow::Result<()> {
    let unit = std::fs::read_to_string(x.join("lib/systemd/system/p2pcf-server.service"))?;
    for option in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "ProtectHome=yes",
        "PrivateTmp=yes",
    ] {
        ensure!(unit.contains(option), "the unit lacks {option:?}");
    }
    let binary = x.join("usr/bin/p2pcf");
    let binary = binary.to_str().context("path")?;
    let checked = dir.join("p2pcf-server.service");
    std::fs::write(&checked, unit.replace("/usr/bin/p2pcf", binary))?;
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .output()
        .context("running systemd-analyze (apt install systemd)")?;
    let warnings = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success() && warnings.trim().is_empty(),
        "systemd-analyze verify: {}\n{warnings}",
        out.status
    );
    let security = run(Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&checked))?;
    let overall = security
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .context("no overall exposure level")?;
    println!("systemd-analyze security --offline: {overall}");
    let level: f64 = overall
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("unreadable: {overall}"))?;
    // 0 (locked down) … 10 (unprotected); systemd calls ≤ 1.9 "OK". A plain unit scores 9.6.
    ensure!(level <= 1.9, "exposure {level}: {overall}");
    Ok(())
}

/// The packaged binary with the packaged config, as `ExecStart` runs it (plus `--bind`, the
/// override `systemctl edit` would add), answers P2PCF's health page.
async fn serve_as_the_unit_does(dir: &WorkDir, x: &Path) -> anyhow::Result<()> {
    let unit = std::fs::read_to_string(x.join("lib/systemd/system/p2pcf-server.service"))?;
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .context("no ExecStart")?;
    let mut argv: Vec<String> = exec.split_whitespace().map(str::to_owned).collect();
    ensure!(argv.first().map(String::as_str) == Some("/usr/bin/p2pcf"));
    argv.remove(0);
    let config = x.join("etc/p2pcf/server.toml");
    for arg in &mut argv {
        if arg == "/etc/p2pcf/server.toml" {
            *arg = config.to_str().context("path")?.to_owned();
        }
    }
    argv.extend(["--bind".to_owned(), "127.0.0.1:0".to_owned()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let instance =
        Instance::start_program(dir, "packaged", &x.join("usr/bin/p2pcf"), &argv).await?;
    let page = reqwest::get(&instance.url).await?.text().await?;
    ensure!(page.contains("Hello from P2PCF"), "health page: {page}");
    Ok(())
}
