//! The proxies of the deployment recipes, run from the documented files themselves
//! (`packaging/haproxy-p2pcf.cfg`, `packaging/nginx-p2pcf.conf`) with only their ports, servers
//! and certificate paths substituted — a substitution that finds nothing fails, so a recipe
//! edit that breaks the test's assumptions is caught. Debian's `haproxy` and `nginx`, each a
//! [`Service`] killed with its process group on drop; configs, pid and logs in the work dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::Command;

use crate::cluster::{free_port, workspace_root, Service, WorkDir};

/// A file of `packaging/`.
pub fn recipe(name: &str) -> anyhow::Result<PathBuf> {
    Ok(workspace_root()?.join("packaging").join(name))
}

/// Replaces each `from` (which must occur exactly once in `text`) with its `to`.
pub fn substitute(text: &str, replacements: &[(&str, String)]) -> anyhow::Result<String> {
    let mut out = text.to_owned();
    for (from, to) in replacements {
        let count = out.matches(from).count();
        if count != 1 {
            bail!("the recipe should contain {from:?} exactly once, found {count}");
        }
        out = out.replacen(from, to, 1);
    }
    Ok(out)
}

/// Debian's haproxy running `packaging/haproxy-p2pcf.cfg` in front of `backends`.
pub struct Haproxy {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub addr: SocketAddr,
    socket: PathBuf,
    pub service: Service,
}

/// One server of the recipe's backend as haproxy's `show stat` reports it.
#[derive(Debug, Clone)]
pub struct ServerStat {
    /// `p2pcf1`, `p2pcf2`, … in the order of the backends given to [`Haproxy::start`].
    pub name: String,
    /// `UP`, `DOWN`, …
    pub status: String,
    /// Answers with a 2xx status the server gave through haproxy.
    pub responses_2xx: u64,
    /// Requests haproxy retried on this server (`wretr`) and moved away from it (`wredis`).
    pub retries: u64,
    pub redispatches: u64,
}

/// The recipe's listen line and server list, as documented.
const HAPROXY_BIND: &str = "    bind :80\n";
const HAPROXY_SERVERS: &str = "    server p2pcf1 127.0.0.1:8787\n    server p2pcf2 127.0.0.1:8788\n    server p2pcf3 127.0.0.1:8789\n";

impl Haproxy {
    pub async fn start(dir: &WorkDir, backends: &[SocketAddr]) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(recipe("haproxy-p2pcf.cfg")?)?;
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("    server p2pcf{} {addr}\n", i + 1))
            .collect();
        let mut last = None;
        for attempt in 0..3 {
            let port = free_port()?;
            let body = substitute(
                &text,
                &[
                    (HAPROXY_BIND, format!("    bind 127.0.0.1:{port}\n")),
                    (HAPROXY_SERVERS, servers.clone()),
                ],
            )?;
            // What Debian's /etc/haproxy/haproxy.cfg has before the recipe, minus chroot and
            // user, with the stats socket in the work dir.
            let socket = dir.join("haproxy.sock");
            let config = format!(
                "global\n    maxconn 4096\n    stats socket {} mode 600 level user\n\n{body}",
                path_str(&socket)?
            );
            let path = dir.join(&format!("haproxy-{attempt}.cfg"));
            std::fs::write(&path, config)?;
            let check = std::process::Command::new("haproxy")
                .arg("-c")
                .arg("-f")
                .arg(&path)
                .output()
                .context("running haproxy -c (apt install haproxy)")?;
            if !check.status.success() {
                bail!(
                    "haproxy -c refused the recipe:\n{}{}",
                    String::from_utf8_lossy(&check.stdout),
                    String::from_utf8_lossy(&check.stderr)
                );
            }
            let mut cmd = Command::new("haproxy");
            cmd.arg("-db").arg("-f").arg(&path);
            let log = dir.join(&format!("haproxy-{attempt}.log"));
            let mut service = Service::spawn("haproxy", cmd, log)?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match service.wait_listening(addr).await {
                Ok(()) => {
                    // haproxy may accept on its port before the stats socket exists.
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                    while !socket.exists() && tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    return Ok(Self {
                        url: format!("http://{addr}"),
                        addr,
                        socket,
                        service,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("haproxy did not start")))
    }
}

impl Haproxy {
    /// The backend's servers from `show stat` on the stats socket.
    pub async fn servers(&self) -> anyhow::Result<Vec<ServerStat>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .context("connecting to haproxy's stats socket")?;
        stream.write_all(b"show stat\n").await?;
        let mut csv = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut csv))
            .await
            .context("haproxy's stats socket did not answer")??;
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .and_then(|h| h.strip_prefix("# "))
            .context("no header in show stat")?
            .split(',')
            .collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .with_context(|| format!("no {name} column in show stat"))
        };
        let (px, sv, status) = (col("pxname")?, col("svname")?, col("status")?);
        let (ok, retr, redis) = (col("hrsp_2xx")?, col("wretr")?, col("wredis")?);
        let mut servers = Vec::new();
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            let get = |i: usize| fields.get(i).copied().unwrap_or_default();
            if get(px) == "p2pcf" && !matches!(get(sv), "FRONTEND" | "BACKEND") {
                servers.push(ServerStat {
                    name: get(sv).to_owned(),
                    status: get(status).to_owned(),
                    responses_2xx: get(ok).parse().unwrap_or(0),
                    retries: get(retr).parse().unwrap_or(0),
                    redispatches: get(redis).parse().unwrap_or(0),
                });
            }
        }
        Ok(servers)
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1` made with `openssl`.
pub struct Certificate {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The certificate in PEM, to add as a client's only trusted root.
    pub pem: Vec<u8>,
}

impl Certificate {
    pub fn generate(dir: &WorkDir) -> anyhow::Result<Self> {
        let cert = dir.join("tls-cert.pem");
        let key = dir.join("tls-key.pem");
        let conf = dir.join("tls-openssl.cnf");
        // A leaf (CA:FALSE) that is its own issuer: rustls accepts it as a trust anchor, and it
        // is valid as a server certificate.
        std::fs::write(
            &conf,
            "[req]\ndistinguished_name = dn\nx509_extensions = leaf\nprompt = no\n\
             [dn]\nCN = localhost\n\
             [leaf]\nbasicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1\n",
        )?;
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .arg("-config")
            .arg(&conf)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .context("running openssl")?;
        if !out.status.success() {
            bail!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let pem = std::fs::read(&cert)?;
        Ok(Self { cert, key, pem })
    }
}

/// Debian's nginx running `packaging/nginx-p2pcf.conf` in front of `upstreams` with `cert`.
pub struct Nginx {
    /// `https://localhost:PORT`, no trailing slash.
    pub url: String,
    pub port: u16,
    pub service: Service,
}

impl Nginx {
    pub async fn start(
        dir: &WorkDir,
        upstreams: &[SocketAddr],
        cert: &Certificate,
    ) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(recipe("nginx-p2pcf.conf")?)?;
        let servers: String = upstreams
            .iter()
            .map(|addr| format!("server {addr};\n    "))
            .collect();
        let temp = dir.join("nginx-temp");
        std::fs::create_dir_all(&temp)?;
        // Workers run as `nobody` when the master is root.
        set_mode(&temp, 0o777)?;
        let mut last = None;
        for attempt in 0..3 {
            let port = free_port()?;
            let site = substitute(
                &text,
                &[
                    (
                        "listen 443 ssl http2;",
                        format!("listen 127.0.0.1:{port} ssl http2;"),
                    ),
                    ("server 127.0.0.1:8787;\n    ", servers.clone()),
                    (
                        "/etc/letsencrypt/live/p2pcf.example.com/fullchain.pem",
                        path_str(&cert.cert)?,
                    ),
                    (
                        "/etc/letsencrypt/live/p2pcf.example.com/privkey.pem",
                        path_str(&cert.key)?,
                    ),
                ],
            )?;
            let site_path = dir.join(&format!("nginx-site-{attempt}.conf"));
            std::fs::write(&site_path, site)?;
            let d = path_str(dir.path())?;
            let t = path_str(&temp)?;
            // Debian's /etc/nginx/nginx.conf reduced to what the recipe needs, every path in the
            // work dir; the recipe is included where Debian includes conf.d/*.conf.
            let main = format!(
                "daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/nginx-error.log info;\n\
                 events {{ worker_connections 512; }}\n\
                 http {{\n  access_log {d}/nginx-access.log;\n\
                 client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n\
                 fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n\
                 scgi_temp_path {t}/scgi;\n  include {};\n}}\n",
                path_str(&site_path)?
            );
            let main_path = dir.join(&format!("nginx-{attempt}.conf"));
            std::fs::write(&main_path, main)?;
            let mut cmd = Command::new("nginx");
            cmd.arg("-e")
                .arg(dir.join("nginx-error.log"))
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&main_path);
            let log = dir.join(&format!("nginx-{attempt}.log"));
            let mut service =
                Service::spawn("nginx", cmd, log).context("starting nginx (apt install nginx)")?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match service.wait_listening(addr).await {
                Ok(()) => {
                    return Ok(Self {
                        url: format!("https://localhost:{port}"),
                        port,
                        service,
                    })
                }
                Err(e) => {
                    let errors =
                        std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
                    last = Some(e.context(errors));
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("nginx did not start")))
    }
}

fn path_str(path: &Path) -> anyhow::Result<String> {
    path.to_str()
        .map(str::to_owned)
        .with_context(|| format!("non-UTF-8 path {}", path.display()))
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Polls `url` until it answers 200 (haproxy's first health checks, a restarted service).
pub async fn wait_ok(client: &reqwest::Client, url: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match client.get(url).send().await {
            Ok(res) if res.status().is_success() => return Ok(()),
            Ok(res) => format!("status {}", res.status()),
            Err(e) => format!("{e:#}"),
        };
        if tokio::time::Instant::now() > deadline {
            bail!("{url} not ready after {timeout:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Debian's `redis-server`, `n` `p2pcf serve --store redis://…` instances and the haproxy recipe
/// in front of them, every server UP. Dropped in this order: haproxy, instances, Redis, files.
pub struct HaproxyCluster {
    pub haproxy: Haproxy,
    pub instances: Vec<crate::cluster::Instance>,
    pub redis: crate::cluster::Redis,
    pub dir: WorkDir,
}

impl HaproxyCluster {
    /// `args` are added to every instance's `p2pcf serve` command line.
    pub async fn start(label: &str, n: usize, args: &[&str]) -> anyhow::Result<Self> {
        let dir = WorkDir::new(label)?;
        let redis = crate::cluster::Redis::start(&dir).await?;
        let mut all_args = vec!["--store", redis.url.as_str()];
        all_args.extend_from_slice(args);
        let starts = (0..n).map(|i| {
            let name = format!("p2pcf{}", i + 1);
            let (dir, all_args) = (&dir, &all_args);
            async move { crate::cluster::Instance::start(dir, &name, all_args).await }
        });
        let instances = futures::future::try_join_all(starts).await?;
        let addrs: Vec<SocketAddr> = instances.iter().map(|i| i.addr).collect();
        let haproxy = Haproxy::start(&dir, &addrs).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let servers = haproxy.servers().await?;
            if servers.len() == n && servers.iter().all(|s| s.status == "UP") {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                bail!("haproxy servers not all UP: {servers:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            haproxy,
            instances,
            redis,
            dir,
        })
    }
}
