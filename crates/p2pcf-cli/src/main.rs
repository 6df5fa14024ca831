//! `p2pcf`: the command-line front end. `p2pcf serve` runs the signalling server
//! (see `p2pcf serve --help`); more subcommands (`join`) live in their own modules.

mod serve;

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
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p2pcf: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
