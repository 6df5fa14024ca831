//! `p2pcf`: the command-line front end. `p2pcf serve` runs the signalling server
//! (see `p2pcf serve --help`); `p2pcf join ROOM` chats and sends files in a room
//! (see `p2pcf join --help`). Each subcommand lives in its own module.

mod join;
mod serve;
mod signal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "p2pcf", version, about = "P2PCF signalling server and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the P2PCF signalling server (a wire-compatible worker.js).
    Serve(serve::ServeArgs),
    /// Join a room: chat over stdin/stdout, send and receive files, or script it with --json.
    Join(join::JoinArgs),
}

/// Logs go to stderr (stdout carries `join`'s output); `RUST_LOG` overrides `default`.
fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_tracing("info");
            serve::run(args)
        }
        Command::Join(args) => {
            init_tracing(join::DEFAULT_LOG_FILTER);
            join::run(args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p2pcf: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
