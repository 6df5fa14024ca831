//! `p2pcf join`: a terminal chat and file drop in a P2PCF room. Arguments are validated here,
//! before anything touches the network; the running session lives in [`session`], output
//! formatting in [`output`], file saving in [`files`].

mod files;
mod output;
mod session;
mod video;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use p2pcf_client::rtc::RtcOptions;
use p2pcf_client::JoinOptions;
use p2pcf_proto::config::{ClientConfig, DEFAULT_WORKER_URL};
use p2pcf_proto::{ClientId, IceServer, RoomId};

/// Default log filter of `join`: warnings, but webrtc-rs internals only on errors (they warn
/// about routine events such as closing connections).
pub const DEFAULT_LOG_FILTER: &str = "warn,webrtc=error,rtc=error,rtc_ice=error,rtc_sctp=error,\
rtc_dtls=error,rtc_srtp=error,rtc_datachannel=error,rtc_mdns=error,rtc_interceptor=error";

/// Command-line options of `join`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without --worker the public P2PCF worker (https://p2pcf.minddrop.workers.dev) is used, and \
without --stun/--turn the P2PCF JavaScript defaults (public Google/Twilio STUN, OpenRelay TURN).

Stdin lines are sent to every connected peer; EOF (Ctrl-D), Ctrl-C or SIGTERM leaves the room.
Logs go to stderr (RUST_LOG, default warn).")]
pub struct JoinArgs {
    /// Room to join: 4 to 64 characters of A-Z a-z 0-9 _ -.
    room: String,
    /// Client id shown to peers (at least 4 characters) [default: a random rust-xxxx].
    #[arg(long, env = "P2PCF_NAME")]
    name: Option<String>,
    /// Signalling worker URL (our `p2pcf serve` or a P2PCF Cloudflare worker).
    #[arg(long, env = "P2PCF_WORKER", default_value = DEFAULT_WORKER_URL)]
    worker: String,
    /// STUN server URL (repeatable, or comma-separated); `none` for no STUN at all
    /// [default: the P2PCF JS list].
    #[arg(
        long,
        env = "P2PCF_STUN",
        value_name = "URL|none",
        value_delimiter = ','
    )]
    stun: Vec<String>,
    /// TURN server as URL,USER,PASS (repeatable; in P2PCF_TURN separate entries with spaces);
    /// `none` for no TURN [default: the P2PCF JS list]. Used only behind a symmetric NAT.
    #[arg(
        long,
        env = "P2PCF_TURN",
        value_name = "URL,USER,PASS|none",
        value_delimiter = ' '
    )]
    turn: Vec<String>,
    /// Print one JSON object per event on stdout (for scripts) instead of chat lines.
    #[arg(long)]
    json: bool,
    /// Send every message received back to its sender.
    #[arg(long)]
    echo: bool,
    /// Send this file to every peer once, when it connects (repeatable).
    #[arg(long = "send-file", value_name = "PATH")]
    send_files: Vec<PathBuf>,
    /// Where received files are saved (created if missing; existing files are never
    /// overwritten).
    #[arg(long, env = "P2PCF_SAVE_DIR", value_name = "DIR", default_value = ".")]
    save_dir: PathBuf,
    /// Largest message (and so file) accepted from a peer, in bytes [default: 256 MiB].
    #[arg(long, env = "P2PCF_MAX_MESSAGE_SIZE", value_name = "BYTES")]
    max_message_size: Option<usize>,
    /// Use IPv4 loopback candidates only (peers on the same machine, tests).
    #[arg(long)]
    loopback_only: bool,
    /// Share video with every peer: test-pattern (moving, with frame number and capture time
    /// drawn in), screen (X11), camera (the first V4L2 camera) or camera:/dev/videoN. Video
    /// peers send is reported either way (with --json: track_started, video_stats each second,
    /// track_ended).
    #[arg(long, value_name = "SOURCE")]
    video: Option<String>,
    /// Size of the shared video.
    #[arg(long, value_name = "WxH", default_value = "640x480")]
    video_size: String,
    /// Frames per second of the shared video (1–60).
    #[arg(long, value_name = "FPS", default_value_t = 30)]
    fps: u32,
    /// Target bitrate of the shared video in kbit/s (100–20000).
    #[arg(long, value_name = "KBPS", default_value_t = 1500)]
    video_kbps: u32,
}

/// A file to offer to every peer, encoded once as its P2PCF file message.
pub(crate) use p2pcf_client::files::OutgoingFile;

/// Everything a session needs, validated.
#[derive(Debug)]
pub(crate) struct Settings {
    pub room: RoomId,
    pub name: ClientId,
    pub options: JoinOptions,
    pub json: bool,
    pub echo: bool,
    pub files: Vec<OutgoingFile>,
    pub save_dir: PathBuf,
    pub video: Option<video::VideoSpec>,
}

/// Joins the room and runs until stdin closes or a signal arrives.
pub fn run(args: JoinArgs) -> anyhow::Result<()> {
    let settings = resolve(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(session::run(settings));
    // The stdin reader thread may sit in a blocking read forever; do not wait for it.
    runtime.shutdown_background();
    result
}

fn resolve(args: JoinArgs) -> anyhow::Result<Settings> {
    let room = RoomId::new(args.room.clone()).map_err(|_| {
        anyhow::anyhow!(
            "invalid room {:?}: use 4 to 64 characters of A-Z a-z 0-9 _ -",
            args.room
        )
    })?;
    let name = args.name.unwrap_or_else(random_name);
    let name =
        ClientId::new(name.clone()).map_err(|e| anyhow::anyhow!("invalid --name {name:?}: {e}"))?;

    let mut config = ClientConfig {
        worker_url: check_worker_url(&args.worker)?,
        ..ClientConfig::default()
    };
    if let Some(stun) = ice_list(&args.stun, "--stun", parse_stun)? {
        config.stun_ice_servers = stun;
    }
    if let Some(turn) = ice_list(&args.turn, "--turn", parse_turn)? {
        config.turn_ice_servers = turn;
    }
    if let Some(max) = args.max_message_size {
        config.max_message_size = max;
    }
    let config = config
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid option: {e}"))?;

    let files = args
        .send_files
        .iter()
        .map(|path| load_file(path, config.max_message_size))
        .collect::<anyhow::Result<Vec<_>>>()?;
    std::fs::create_dir_all(&args.save_dir)
        .with_context(|| format!("cannot create --save-dir {}", args.save_dir.display()))?;
    if !args.save_dir.is_dir() {
        bail!("--save-dir {} is not a directory", args.save_dir.display());
    }

    let video = match &args.video {
        None => None,
        Some(source) => {
            let (width, height) = video::parse_size(&args.video_size)?;
            if !(1..=60).contains(&args.fps) {
                bail!("invalid --fps {}: use 1 to 60", args.fps);
            }
            if !(100..=20_000).contains(&args.video_kbps) {
                bail!("invalid --video-kbps {}: use 100 to 20000", args.video_kbps);
            }
            Some(video::VideoSpec {
                source: video::parse_source(source)?,
                width,
                height,
                fps: args.fps,
                bitrate_bps: args.video_kbps * 1000,
            })
        }
    };
    let rtc = if args.loopback_only {
        RtcOptions::loopback_only()
    } else {
        RtcOptions::default()
    };
    Ok(Settings {
        room,
        name,
        options: JoinOptions { config, rtc },
        json: args.json,
        echo: args.echo,
        files,
        save_dir: args.save_dir,
        video,
    })
}

/// `rust-` and four random lowercase letters or digits (P2PCF wants at least 4 characters).
fn random_name() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..4)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("rust-{tail}")
}

fn check_worker_url(raw: &str) -> anyhow::Result<String> {
    let parsed =
        url::Url::parse(raw).map_err(|e| anyhow::anyhow!("invalid --worker {raw:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        bail!("invalid --worker {raw:?}: must be an http:// or https:// URL with a host");
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// `None`: the flag was not given (keep the defaults). `none` alone means an empty list.
fn ice_list(
    values: &[String],
    flag: &str,
    parse: fn(&str) -> anyhow::Result<IceServer>,
) -> anyhow::Result<Option<Vec<IceServer>>> {
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Ok(None);
    }
    if values.iter().any(|v| v.eq_ignore_ascii_case("none")) {
        if values.len() > 1 {
            bail!("{flag} none cannot be combined with server URLs");
        }
        return Ok(Some(Vec::new()));
    }
    values
        .into_iter()
        .map(parse)
        .collect::<Result<_, _>>()
        .map(Some)
}

fn parse_stun(value: &str) -> anyhow::Result<IceServer> {
    check_ice_url(value, "--stun", &["stun:", "stuns:"])?;
    Ok(IceServer::new(value))
}

fn parse_turn(value: &str) -> anyhow::Result<IceServer> {
    let mut parts = value.splitn(3, ',');
    let (Some(url), Some(user), Some(pass)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("invalid --turn {value:?}: expected URL,USER,PASS (or none)");
    };
    check_ice_url(url, "--turn", &["turn:", "turns:"])?;
    if user.is_empty() {
        bail!("invalid --turn {value:?}: the user name is empty");
    }
    Ok(IceServer {
        urls: vec![url.to_owned()],
        username: Some(user.to_owned()),
        credential: Some(pass.to_owned()),
    })
}

fn check_ice_url(url: &str, flag: &str, schemes: &[&str]) -> anyhow::Result<()> {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = schemes.iter().find_map(|s| lower.strip_prefix(s)) else {
        bail!(
            "invalid {flag} URL {url:?}: must start with {}",
            schemes.join(" or ")
        );
    };
    let host = rest.split(['?', '/']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        bail!("invalid {flag} URL {url:?}: no host");
    }
    Ok(())
}

fn load_file(path: &Path, max_message_size: usize) -> anyhow::Result<OutgoingFile> {
    let data = std::fs::read(path)
        .with_context(|| format!("cannot read --send-file {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("--send-file {} has no file name", path.display()))?;
    let outgoing = OutgoingFile::encode(name, &data);
    if outgoing.message.len() > max_message_size {
        bail!(
            "--send-file {} is too large: {} bytes with its header, more than the {max_message_size}-byte \
             message limit (see --max-message-size)",
            path.display(),
            outgoing.message.len()
        );
    }
    Ok(outgoing)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: JoinArgs,
    }

    fn resolve_args(args: &[&str]) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from(std::iter::once("join").chain(args.iter().copied()))?;
        resolve(cli.args)
    }

    #[test]
    fn defaults_are_the_js_defaults_and_a_random_name() {
        let s = resolve_args(&["my-room"]).unwrap();
        let defaults = ClientConfig::default();
        assert_eq!(s.options.config.worker_url, DEFAULT_WORKER_URL);
        assert_eq!(s.options.config.stun_ice_servers, defaults.stun_ice_servers);
        assert_eq!(s.options.config.turn_ice_servers, defaults.turn_ice_servers);
        assert!(s.name.to_string().starts_with("rust-"));
        assert_eq!(s.name.to_string().len(), 9);
    }

    #[test]
    fn none_empties_the_ice_lists_and_urls_are_parsed() {
        let s = resolve_args(&["room1", "--stun", "none", "--turn", "none"]).unwrap();
        assert!(s.options.config.stun_ice_servers.is_empty());
        assert!(s.options.config.turn_ice_servers.is_empty());
        let s = resolve_args(&[
            "room1",
            "--stun",
            "stun:127.0.0.1:3478",
            "--stun",
            "stun:a.example:1,stun:b.example:2",
            "--turn",
            "turn:t.example:3478?transport=tcp,user,pa,ss",
        ])
        .unwrap();
        assert_eq!(s.options.config.stun_ice_servers.len(), 3);
        let turn = &s.options.config.turn_ice_servers[0];
        assert_eq!(turn.urls, ["turn:t.example:3478?transport=tcp"]);
        assert_eq!(turn.credential.as_deref(), Some("pa,ss"));
    }

    #[test]
    fn bad_arguments_are_rejected_with_the_flag_named() {
        let cases: &[(&[&str], &str)] = &[
            (&["abc"], "invalid room"),
            (&["bad room!"], "invalid room"),
            (&["room1", "--name", "abc"], "--name"),
            (&["room1", "--worker", "not a url"], "--worker"),
            (&["room1", "--worker", "ftp://x.example"], "--worker"),
            (&["room1", "--stun", "http://x"], "--stun"),
            (
                &["room1", "--stun", "none", "--stun", "stun:x:1"],
                "--stun none",
            ),
            (&["room1", "--turn", "turn:x:1"], "URL,USER,PASS"),
            (&["room1", "--turn", "stun:x:1,u,p"], "--turn"),
            (
                &["room1", "--send-file", "/nonexistent/file"],
                "--send-file",
            ),
            (&["room1", "--max-message-size", "0"], "maxMessageSize"),
        ];
        for (args, expected) in cases {
            let err = resolve_args(args).unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
}
