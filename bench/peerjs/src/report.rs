//! The machine state and the comparison table (Markdown on stdout), plus the issue's targets.

use std::time::Duration;

use crate::expire::ExpireResult;
use crate::hold::HoldResult;
use crate::relay::RelayResult;
use crate::servers::Kind;
use crate::Config;

pub struct Machine {
    lines: Vec<String>,
}

impl Machine {
    pub fn now(nofile: u64, config: &Config) -> Machine {
        let out = |cmd: &str, args: &[&str]| crate::command_output(cmd, args);
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let commit = out(
            "git",
            &[
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                "rev-parse",
                "--short",
                "HEAD",
            ],
        );
        let dirty = out(
            "git",
            &[
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                "status",
                "--porcelain",
                "--",
                "../../crates/p2pcf-server",
            ],
        );
        Machine {
            lines: vec![
                format!(
                    "machine: {} cores, kernel {}, load average before {}",
                    out("nproc", &[]),
                    out("uname", &["-r"]),
                    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
                ),
                format!(
                    "ours: {}; official: npm peer 1.0.2 on node {}",
                    match std::env::var("P2PCF_BIN") {
                        Ok(bin) => format!("{bin} (P2PCF_BIN; tree at commit {commit})"),
                        Err(_) => format!(
                            "p2pcf serve (release) built from commit {commit}{}",
                            if dirty.is_empty() { "" } else { " + uncommitted p2pcf-server changes" }
                        ),
                    },
                    out("node", &["--version"])
                ),
                format!(
                    "open-file limit {nofile}; connects in flight {}; source addresses 127.0.x.1-{} per run; relay {} pairs, window {} frames per direction, {} s",
                    config.concurrency,
                    crate::hold::SOURCES,
                    config.pairs,
                    config.window,
                    config.secs
                ),
            ],
        }
    }
}

#[derive(Default)]
pub struct Results {
    pub hold_small: Vec<(Kind, HoldResult)>,
    pub hold_large: Option<HoldResult>,
    pub relay: Vec<(Kind, RelayResult)>,
    pub expire: Vec<(Kind, ExpireResult)>,
}

fn of<T>(list: &[(Kind, T)], kind: Kind) -> Option<&T> {
    list.iter().find(|(k, _)| *k == kind).map(|(_, v)| v)
}

fn cell<T>(value: Option<&T>, f: impl Fn(&T) -> String) -> String {
    value.map(f).unwrap_or_else(|| "—".to_string())
}

pub fn hold_line(h: &HoldResult) -> String {
    format!(
        "opened={}/{} failures={} connect_p50_ms={:.2} p99_ms={:.2} max_ms={:.1} wall_s={:.1} rss_idle_kib={} rss_loaded_kib={} kib_per_client={:.2}{}",
        h.opened,
        h.target,
        h.failures,
        h.connect.p50_ms(),
        h.connect.p99_ms(),
        h.connect.max_ms(),
        h.elapsed.as_secs_f64(),
        h.rss_idle_kib,
        h.rss_loaded_kib,
        h.kib_per_client(),
        h.first_error.as_ref().map(|e| format!(" first_error={e:?}")).unwrap_or_default()
    )
}

pub fn relay_line(r: &RelayResult) -> String {
    format!(
        "msgs_per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.1} sent={} received={} lost={} out_of_order={} foreign={} server_cpu={:.2} generator_cpu={:.2} frame_bytes={}{}{}",
        r.rate(),
        r.latency.p50_ms(),
        r.latency.p99_ms(),
        r.latency.max_ms(),
        r.sent,
        r.received,
        r.lost(),
        r.out_of_order,
        r.foreign,
        r.server_cpu.as_secs_f64() / r.window_secs,
        r.generator_cpu.as_secs_f64() / r.window_secs,
        r.frame_bytes,
        r.first_foreign.as_ref().map(|e| format!(" first_foreign={e:?}")).unwrap_or_default(),
        if r.errors.is_empty() { String::new() } else { format!(" errors={:?}", &r.errors[..r.errors.len().min(3)]) }
    )
}

pub fn expire_line((delays, failures): &ExpireResult) -> String {
    let list: Vec<String> = delays
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    format!(
        "expire_s=[{}] failures={}{}",
        list.join(", "),
        failures.len(),
        failures
            .first()
            .map(|e| format!(" first={e:?}"))
            .unwrap_or_default()
    )
}

pub fn print(machine: &Machine, config: &Config, results: &Results, load_after: &str) {
    for line in &machine.lines {
        println!("{line}");
    }
    println!();
    println!("| measurement | ours | official |");
    println!("|---|---|---|");
    let row = |name: String, f: &dyn Fn(Kind) -> String| {
        println!("| {name} | {} | {} |", f(Kind::Ours), f(Kind::Official));
    };
    let hold = |k| of(&results.hold_small, k);
    let n = config.small;
    row(format!("(a) {n} clients: open / failures"), &|k| {
        cell(hold(k), |h| format!("{} / {}", h.opened, h.failures))
    });
    row(format!("(a) {n}: connect→OPEN p50 / p99 ms"), &|k| {
        cell(hold(k), |h| {
            format!("{:.2} / {:.2}", h.connect.p50_ms(), h.connect.p99_ms())
        })
    });
    row(format!("(a) {n}: all connected in s"), &|k| {
        cell(hold(k), |h| format!("{:.1}", h.elapsed.as_secs_f64()))
    });
    row(format!("(a) {n}: RSS idle → loaded MiB"), &|k| {
        cell(hold(k), |h| {
            format!(
                "{:.1} → {:.1}",
                h.rss_idle_kib as f64 / 1024.0,
                h.rss_loaded_kib as f64 / 1024.0
            )
        })
    });
    row(format!("(a) {n}: RSS per client KiB"), &|k| {
        cell(hold(k), |h| format!("{:.2}", h.kib_per_client()))
    });
    if let Some(h) = &results.hold_large {
        let n = h.target;
        let ours = |f: &dyn Fn(&HoldResult) -> String| f(h);
        println!(
            "| (a) {n} clients: open / failures | {} | — |",
            ours(&|h| format!("{} / {}", h.opened, h.failures))
        );
        println!(
            "| (a) {n}: connect→OPEN p50 / p99 ms | {:.2} / {:.2} | — |",
            h.connect.p50_ms(),
            h.connect.p99_ms()
        );
        println!(
            "| (a) {n}: all connected in s | {:.1} | — |",
            h.elapsed.as_secs_f64()
        );
        println!(
            "| (a) {n}: RSS idle → loaded MiB | {:.1} → {:.1} | — |",
            h.rss_idle_kib as f64 / 1024.0,
            h.rss_loaded_kib as f64 / 1024.0
        );
        println!(
            "| (a) {n}: RSS per client KiB | {:.2} | — |",
            h.kib_per_client()
        );
    }
    let relay = |k| of(&results.relay, k);
    row("(b) relayed msgs/s".into(), &|k| {
        cell(relay(k), |r| format!("{:.0}", r.rate()))
    });
    row("(b) latency p50 / p99 / max ms".into(), &|k| {
        cell(relay(k), |r| {
            format!(
                "{:.2} / {:.2} / {:.1}",
                r.latency.p50_ms(),
                r.latency.p99_ms(),
                r.latency.max_ms()
            )
        })
    });
    row("(b) sent / received / lost".into(), &|k| {
        cell(relay(k), |r| {
            format!("{} / {} / {}", r.sent, r.received, r.lost())
        })
    });
    row(
        "(b) out of order / unexpected frames / errors".into(),
        &|k| {
            cell(relay(k), |r| {
                format!("{} / {} / {}", r.out_of_order, r.foreign, r.errors.len())
            })
        },
    );
    row("(b) CPU cores used: server / generator".into(), &|k| {
        cell(relay(k), |r| {
            format!(
                "{:.2} / {:.2}",
                r.server_cpu.as_secs_f64() / r.window_secs,
                r.generator_cpu.as_secs_f64() / r.window_secs
            )
        })
    });
    row("(b) relayed msgs per server CPU-second".into(), &|k| {
        cell(relay(k), |r| {
            format!(
                "{:.0}",
                r.received_in_window as f64 / r.server_cpu.as_secs_f64().max(1e-9)
            )
        })
    });
    row(
        "(c) OFFER to nobody → EXPIRE s (min / median / max)".into(),
        &|k| {
            cell(of(&results.expire, k), |(d, f)| {
                if d.is_empty() {
                    return format!("no sample ({} failed)", f.len());
                }
                let s = |d: &Duration| format!("{:.2}", d.as_secs_f64());
                let fails = if f.is_empty() {
                    String::new()
                } else {
                    format!(", {} failed", f.len())
                };
                format!(
                    "{} / {} / {}{fails}",
                    s(&d[0]),
                    s(&d[d.len() / 2]),
                    s(&d[d.len() - 1])
                )
            })
        },
    );
    println!();
    println!("load average after: {load_after}");
    targets(config, results);
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn targets(config: &Config, results: &Results) {
    println!();
    println!("targets (issue 9):");
    if let Some(h) = &results.hold_large {
        let per = h.kib_per_client();
        println!(
            "- <= 8 KiB RSS per client: {per:.2} KiB each with {} held, {} failures → {}",
            h.opened,
            h.failures,
            verdict(h.failures == 0 && per <= 8.0)
        );
        match config.capped_from {
            Some(wanted) => println!(
                "- {wanted} concurrent clients: NOT MEASURED — the open-file hard limit here allowed {} per process",
                h.target
            ),
            None => println!(
                "- {} concurrent clients: {} held → {}",
                h.target,
                h.opened,
                verdict(h.failures == 0 && h.opened == h.target)
            ),
        }
    }
    let ours = of(&results.relay, Kind::Ours);
    let official = of(&results.relay, Kind::Official);
    if let Some(r) = ours {
        println!(
            "- >= 100 000 relayed msgs/s: {:.0} → {}",
            r.rate(),
            verdict(r.rate() >= 100_000.0)
        );
        println!(
            "- relay p99 <= 20 ms: {:.2} ms → {}",
            r.latency.p99_ms(),
            verdict(r.latency.p99_ms() <= 20.0)
        );
        println!(
            "- relay lost = 0: {} → {}",
            r.lost(),
            verdict(r.lost() == 0 && r.errors.is_empty())
        );
    }
    if let (Some(r), Some(o)) = (ours, official) {
        let ratio = r.rate() / o.rate().max(1e-9);
        println!(
            "- >= 5x the official server's relay rate: {ratio:.1}x → {}",
            verdict(ratio >= 5.0)
        );
    }
}
