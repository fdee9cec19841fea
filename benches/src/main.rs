//! `zicht-bench`: runs the saved-query suite (queries/) at chosen scales, in-process with and
//! without protection and over the PostgreSQL wire protocol, and writes every iteration's time as
//! JSON, in the style of DataFusion's benchmarks.
//!
//! `zicht-bench soak` runs `zicht serve` under concurrent wire clients for a long run (saved and
//! ad-hoc queries, cancels, reconnects) and reports errors, latency, memory and the audit log.
//!
//! `zicht-bench fuzz` feeds a `zicht serve` process mutated protocol messages and abandoned
//! handshakes, and checks that it answers, stays up, frees its slots and keeps its memory.
//!
//! `zicht-bench report` turns those files and the peers' (benches/peers/peers.py: DuckDB and
//! PostgreSQL on the same data) into benches/README.md with tables and SVG charts.
//! benches/run.sh does all of it in one command.
//!
//! ```sh
//! cargo run --release -p zicht-bench -- run --scale 0.1 --scale 1 --iterations 3
//! cargo run --release -p zicht-bench -- report
//! ```

mod charts;
mod concurrency;
mod fuzz;
mod report;
mod results;
mod soak;
mod suite;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "zicht-bench", about = "Benchmarks the Zicht saved-query suite")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the suite and write one JSON file per scale.
    Run(RunArgs),
    /// Write the results page (benches/README.md) and its charts from the JSON results.
    Report(ReportArgs),
    /// Run `zicht serve` under concurrent clients for a long time: errors, latency, memory, audit.
    Soak(SoakArgs),
    /// Feed `zicht serve` mutated protocol messages and abandoned handshakes (bounded, not in CI).
    Fuzz(FuzzArgs),
}

/// How a query is run.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In-process, through the suppression layer (what users get).
    Protected,
    /// In-process, protection off (the test-and-benchmark-only mode): the engine's raw speed.
    Unprotected,
    /// Protected, over the PostgreSQL wire protocol on loopback (extended protocol, binary rows).
    Wire,
}

impl Mode {
    /// The name in the JSON results and the report.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Protected => "protected",
            Mode::Unprotected => "unprotected",
            Mode::Wire => "wire",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scales to run (1 = the Netherlands); repeatable.
    #[arg(long = "scale", default_values_t = vec![0.1])]
    pub scales: Vec<f64>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where datasets live (`s<scale>-seed<seed>`); generated when missing.
    #[arg(long, default_value = "target/bench-data")]
    pub data_root: PathBuf,
    /// Modes to run; repeatable.
    #[arg(long = "mode", value_enum, default_values_t = vec![Mode::Protected, Mode::Unprotected, Mode::Wire])]
    pub modes: Vec<Mode>,
    /// Timed iterations per query and mode, after the warm-up run.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Only the saved queries whose theme/name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Where the JSON results go (`scale-<scale>.json`).
    #[arg(long, default_value = "benches/results")]
    pub output: PathBuf,
    /// Folder of ad-hoc analyst queries (`<group>/<name>.sql`) run next to the saved queries, as
    /// written (at the untrusted level when protected).
    #[arg(long, default_value = "benches/adhoc")]
    pub adhoc: PathBuf,
    /// Concurrent wire clients to measure throughput with (protected); repeatable, none to skip.
    #[arg(long = "clients")]
    pub clients: Vec<usize>,
    /// How long each concurrency level runs, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub concurrency_seconds: f64,
}

/// The `zicht serve` process a wire run starts, and where its data lives.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Where datasets live (`s<scale>-seed<seed>`); generated when missing.
    #[arg(long, default_value = "target/bench-data")]
    pub data_root: PathBuf,
    /// The server binary, run as `zicht serve` in its own process.
    #[arg(long, default_value = "target/release/zicht")]
    pub server: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct SoakArgs {
    #[arg(long, default_value_t = 0.1)]
    pub scale: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub target: ServerArgs,
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// How long the clients run, in seconds.
    #[arg(long, default_value_t = 600.0)]
    pub seconds: f64,
    /// Every this many statements of a client, one is cancelled while it runs.
    #[arg(long, default_value_t = 7)]
    pub cancel_every: u64,
    /// Every this many statements, a client drops its connection and connects again.
    #[arg(long, default_value_t = 11)]
    pub reconnect_every: u64,
    /// Folder of ad-hoc analyst queries, looped over with the saved queries.
    #[arg(long, default_value = "benches/adhoc")]
    pub adhoc: PathBuf,
    /// Where the JSON result goes (`soak-scale-<scale>.json`).
    #[arg(long, default_value = "benches/results")]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    /// Mutated cases (each one to four messages, or a startup packet).
    #[arg(long, default_value_t = 10_000)]
    pub cases: u64,
    /// Connections abandoned during their handshake.
    #[arg(long, default_value_t = 1_000)]
    pub handshakes: u64,
    /// The server's connection limit; every slot must be free again after the handshakes.
    #[arg(long, default_value_t = 40)]
    pub max_connections: usize,
    /// Cases run at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds of silence after which a case is waiting for bytes it announced.
    #[arg(long, default_value_t = 2.0)]
    pub read_timeout: f64,
    /// Seed of the mutations (the same seed, the same cases).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The fuzz runs on the scale 0.01 data, seed 42.
    #[command(flatten)]
    pub target: ServerArgs,
    /// Where the JSON result goes (`fuzz-wire.json`).
    #[arg(long, default_value = "benches/results")]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Where the JSON results are (`scale-*.json`, `peers-scale-*.json`).
    #[arg(long, default_value = "benches/results")]
    pub results: PathBuf,
    /// The page to write; charts go to `charts/` beside it.
    #[arg(long, default_value = "benches/README.md")]
    pub output: PathBuf,
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => suite::run(args).await,
            Command::Report(args) => report::write(&args),
            Command::Soak(args) => soak::run(args).await,
            Command::Fuzz(args) => fuzz::run(args).await,
        }
    });
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
