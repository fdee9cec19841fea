//! `zicht`: the command line of the Zicht warehouse.
//!
//! Generates the synthetic dataset, runs SQL and saved theme queries in-process through the
//! suppression layer, checks or lists the catalog and the saved queries, and serves the warehouse
//! over the PostgreSQL wire protocol, alone or as the coordinator of workers. Errors print one line and exit non-zero.

mod args;
mod catalog_cmd;
mod data;
mod gen_cmd;
mod output;
mod passwd_cmd;
mod queries_cmd;
mod query_cmd;
mod run_cmd;
mod serve_cmd;
mod worker_cmd;

use clap::Parser;

use args::{Cli, Command};

/// A failure of a command: one line for the user, and a SQLSTATE when the engine gave one.
#[derive(Debug)]
pub struct Failure {
    message: String,
    sqlstate: Option<&'static str>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), sqlstate: None }
    }
}

impl From<zicht_engine::EngineError> for Failure {
    fn from(error: zicht_engine::EngineError) -> Failure {
        Failure { sqlstate: Some(error.sqlstate()), message: error.to_string() }
    }
}

impl From<zicht_catalog::CatalogError> for Failure {
    fn from(error: zicht_catalog::CatalogError) -> Failure {
        Failure::new(error.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        Failure::new(error.to_string())
    }
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => exit_with(Failure::new(format!("cannot start the runtime: {e}"))),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Gen(args) => gen_cmd::run(args),
            Command::Query(args) => query_cmd::run(args).await,
            Command::Catalog(args) => catalog_cmd::run(args).await,
            Command::Serve(args) => serve_cmd::run(args).await,
            Command::Passwd(args) => passwd_cmd::run(args),
            Command::Run(args) => run_cmd::run(args).await,
            Command::Queries(args) => queries_cmd::run(args).await,
            Command::Worker(args) => worker_cmd::run(args).await,
        }
    });
    if let Err(failure) = result {
        exit_with(failure);
    }
}

fn exit_with(failure: Failure) -> ! {
    // One line: multi-line messages (catalog problems) are joined.
    let message = failure.message.lines().map(str::trim).collect::<Vec<_>>().join("; ");
    match failure.sqlstate {
        Some(code) => eprintln!("error: {message} (SQLSTATE {code})"),
        None => eprintln!("error: {message}"),
    }
    std::process::exit(1);
}
