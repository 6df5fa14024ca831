//! `p2pcf serve`: flags (or `P2PCF_*` env vars) over an optional TOML file over the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use p2pcf_server::{PeerIdStyle, PeerJsConfig, ServerConfig, StoreConfig};
use serde::Deserialize;

const DEFAULT_BIND: &str = "127.0.0.1:8787";

/// Command-line options of `serve`; every one also reads an environment variable.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen one is logged).
    #[arg(long, env = "P2PCF_BIND")]
    bind: Option<SocketAddr>,
    /// Where rooms live: `memory`, `file:PATH` to keep them across restarts, or Redis shared
    /// by several instances: `redis://HOST:PORT[/DB]`, `rediss://…` (TLS),
    /// `redis+cluster://HOST:PORT[,HOST:PORT…]` (Cluster).
    #[arg(
        long,
        env = "P2PCF_STORE",
        value_name = "memory|file:PATH|redis://HOST:PORT[/DB]",
        conflicts_with = "data_dir"
    )]
    store: Option<StoreConfig>,
    /// Shorthand for `--store file:DIR`.
    #[arg(long, env = "P2PCF_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Comma-separated origins that are never limited (the worker's ALLOWED_ORIGINS).
    #[arg(long, env = "P2PCF_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Option<Vec<String>>,
    /// Requests per UTC month for other origins (the worker's ORIGIN_QUOTA; default 10000,
    /// or 0 when allowed origins are set).
    #[arg(long, env = "P2PCF_ORIGIN_QUOTA")]
    origin_quota: Option<u64>,
    /// Largest accepted request body in bytes (default 1 MiB).
    #[arg(long, env = "P2PCF_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Serve `GET /metrics` (Prometheus text format).
    #[arg(long, env = "P2PCF_METRICS")]
    metrics: bool,
    /// Where the PeerJS endpoint lives (default `/peerjs`: `new Peer({host, port, path: '/peerjs'})`).
    #[arg(long, env = "P2PCF_PEERJS_PATH", value_name = "PATH")]
    peerjs_path: Option<String>,
    /// The key PeerJS clients must send (default `peerjs`).
    #[arg(long, env = "P2PCF_PEERJS_KEY")]
    peerjs_key: Option<String>,
    /// Messages for an offline PeerJS id wait this long before `EXPIRE` (default 5000).
    #[arg(long, env = "P2PCF_PEERJS_EXPIRE_TIMEOUT_MS", value_name = "MS")]
    peerjs_expire_timeout_ms: Option<u64>,
    /// A PeerJS client without `HEARTBEAT` for this long is disconnected (default 90000).
    #[arg(long, env = "P2PCF_PEERJS_ALIVE_TIMEOUT_MS", value_name = "MS")]
    peerjs_alive_timeout_ms: Option<u64>,
    /// At most this many PeerJS ids at once (default 200000).
    #[arg(long, env = "P2PCF_PEERJS_CONCURRENT_LIMIT", value_name = "N")]
    peerjs_concurrent_limit: Option<usize>,
    /// Answer `GET {path}{key}/peers` with the connected ids.
    #[arg(long, env = "P2PCF_PEERJS_ALLOW_DISCOVERY")]
    peerjs_allow_discovery: bool,
    /// Ids handed out by `GET {path}{key}/id`: `uuid`, or `short` (8 Crockford Base32 chars).
    #[arg(long, env = "P2PCF_PEERJS_IDS", value_name = "uuid|short")]
    peerjs_ids: Option<PeerIdStyle>,
    /// Serve P2PCF only.
    #[arg(long, env = "P2PCF_NO_PEERJS")]
    no_peerjs: bool,
    /// TOML file with `bind` and any `ServerConfig` field; flags override it.
    #[arg(long, env = "P2PCF_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The TOML file: `bind` plus the server configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    allowed_origins: Option<Vec<String>>,
    origin_quota: Option<u64>,
    max_body_bytes: Option<usize>,
    store: Option<StoreConfig>,
    vacuum_interval_ms: Option<u64>,
    peerjs: Option<PeerJsConfig>,
    metrics: Option<bool>,
}

fn resolve(args: ServeArgs) -> anyhow::Result<(SocketAddr, ServerConfig)> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            toml::from_str::<FileConfig>(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let defaults = ServerConfig::default();
    let bind = match args.bind.or(file.bind) {
        Some(bind) => bind,
        None => DEFAULT_BIND.parse().context("default bind address")?,
    };
    let allowed_origins: Vec<String> = args
        .allowed_origins
        .or(file.allowed_origins)
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    let store = match (args.store, args.data_dir) {
        (Some(store), _) => store,
        (None, Some(path)) => StoreConfig::File { path },
        (None, None) => file.store.unwrap_or(defaults.store),
    };
    let max_body_bytes = args
        .max_body_bytes
        .or(file.max_body_bytes)
        .unwrap_or(defaults.max_body_bytes);
    anyhow::ensure!(max_body_bytes > 0, "--max-body-bytes must be at least 1");
    let vacuum_interval_ms = file
        .vacuum_interval_ms
        .unwrap_or(defaults.vacuum_interval_ms);
    anyhow::ensure!(
        vacuum_interval_ms > 0,
        "vacuum_interval_ms must be at least 1"
    );
    let mut peerjs = file.peerjs.unwrap_or_default();
    if args.no_peerjs {
        peerjs.enabled = false;
    }
    if let Some(path) = args.peerjs_path {
        peerjs.path = path;
    }
    if let Some(key) = args.peerjs_key {
        peerjs.key = key;
    }
    peerjs.expire_timeout_ms = args
        .peerjs_expire_timeout_ms
        .unwrap_or(peerjs.expire_timeout_ms);
    peerjs.alive_timeout_ms = args
        .peerjs_alive_timeout_ms
        .unwrap_or(peerjs.alive_timeout_ms);
    peerjs.concurrent_limit = args
        .peerjs_concurrent_limit
        .unwrap_or(peerjs.concurrent_limit);
    peerjs.allow_discovery |= args.peerjs_allow_discovery;
    peerjs.ids = args.peerjs_ids.unwrap_or(peerjs.ids);
    anyhow::ensure!(!peerjs.key.is_empty(), "--peerjs-key must not be empty");
    anyhow::ensure!(
        peerjs.max_frame_bytes > 0 && peerjs.socket_send_queue > 0,
        "peerjs max_frame_bytes and socket_send_queue must be at least 1"
    );
    let config = ServerConfig {
        allowed_origins,
        origin_quota: args.origin_quota.or(file.origin_quota),
        max_body_bytes,
        store,
        vacuum_interval_ms,
        request_head_timeout_ms: defaults.request_head_timeout_ms,
        peerjs,
        metrics: args.metrics || file.metrics.unwrap_or(defaults.metrics),
    };
    Ok((bind, config))
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (bind, config) = resolve(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        tracing::info!(
            store = ?config.store,
            origin_quota = config.effective_origin_quota(),
            allowed_origins = ?config.allowed_origins,
            "listening on http://{addr}"
        );
        if config.peerjs.enabled {
            tracing::info!(
                key = %config.peerjs.key,
                "PeerJS at http://{addr}{path} (new Peer({{host, port, path: '{path}'}}))",
                path = config.peerjs.normalized_path()
            );
        }
        p2pcf_server::serve(listener, config, async {
            crate::signal::shutdown_signal().await;
            tracing::info!("shutting down");
        })
        .await
        .context("server failed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(argv: &[&str]) -> anyhow::Result<(SocketAddr, ServerConfig)> {
        let wrapper =
            Wrapper::try_parse_from(std::iter::once("serve").chain(argv.iter().copied()))?;
        resolve(wrapper.args)
    }

    #[test]
    fn defaults_bind_localhost_8787_with_memory_store() -> anyhow::Result<()> {
        let (bind, config) = parse(&[])?;
        assert_eq!(bind.to_string(), "127.0.0.1:8787");
        assert_eq!(config, ServerConfig::default());
        Ok(())
    }

    #[test]
    fn flags_override_the_config_file() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("p2pcf-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("server.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\norigin_quota = 5\nallowed_origins = [\"https://a\"]\nstore = { type = \"file\", path = \"/tmp/x\" }\n",
        )?;
        let path = file.to_string_lossy().into_owned();
        let (bind, config) = parse(&["--config", &path, "--origin-quota", "7"])?;
        assert_eq!(bind.to_string(), "127.0.0.1:9000");
        assert_eq!(config.origin_quota, Some(7));
        assert_eq!(config.allowed_origins, vec!["https://a".to_owned()]);
        assert_eq!(
            config.store,
            StoreConfig::File {
                path: "/tmp/x".into()
            }
        );
        let (_, config) = parse(&[
            "--config",
            &path,
            "--store",
            "memory",
            "--allowed-origins",
            "https://b, https://c",
        ])?;
        assert_eq!(config.store, StoreConfig::Memory);
        assert_eq!(
            config.allowed_origins,
            vec!["https://b".to_owned(), "https://c".to_owned()]
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn peerjs_flags_set_the_endpoint() -> anyhow::Result<()> {
        let (_, config) = parse(&[
            "--peerjs-path",
            "/signal",
            "--peerjs-key",
            "k",
            "--peerjs-expire-timeout-ms",
            "2000",
            "--peerjs-alive-timeout-ms",
            "60000",
            "--peerjs-concurrent-limit",
            "10",
            "--peerjs-allow-discovery",
            "--peerjs-ids",
            "short",
        ])?;
        let expected = PeerJsConfig {
            path: "/signal".into(),
            key: "k".into(),
            expire_timeout_ms: 2000,
            alive_timeout_ms: 60_000,
            concurrent_limit: 10,
            allow_discovery: true,
            ids: PeerIdStyle::Short,
            ..PeerJsConfig::default()
        };
        assert_eq!(config.peerjs, expected);
        let (_, config) = parse(&["--no-peerjs"])?;
        assert!(!config.peerjs.enabled);
        Ok(())
    }

    #[test]
    fn peerjs_table_in_the_config_file_under_flags() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("p2pcf-cli-peerjs-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("server.toml");
        std::fs::write(
            &file,
            "[peerjs]\npath = \"/p\"\nkey = \"filekey\"\nqueue_max_bytes_total = 1000\nids = \"short\"\n",
        )?;
        let path = file.to_string_lossy().into_owned();
        let (_, config) = parse(&["--config", &path, "--peerjs-key", "flagkey"])?;
        assert_eq!(config.peerjs.path, "/p");
        assert_eq!(config.peerjs.key, "flagkey");
        assert_eq!(config.peerjs.queue_max_bytes_total, 1000);
        assert_eq!(config.peerjs.ids, PeerIdStyle::Short);
        std::fs::write(&file, "[peerjs]\nkeyy = \"typo\"\n")?;
        assert!(
            parse(&["--config", &path]).is_err(),
            "unknown keys are refused"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn bad_peerjs_arguments_are_refused() {
        assert!(parse(&["--peerjs-ids", "long"]).is_err());
        assert!(parse(&["--peerjs-key", ""]).is_err());
        assert!(parse(&["--peerjs-expire-timeout-ms", "soon"]).is_err());
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse(&["--store", "redis:x"]).is_err());
        assert!(parse(&["--bind", "nowhere"]).is_err());
        assert!(parse(&["--origin-quota", "-1"]).is_err());
        assert!(parse(&["--max-body-bytes", "0"]).is_err());
        assert!(parse(&["--config", "/nonexistent/p2pcf.toml"]).is_err());
    }
}
