//! `zicht worker`: a worker of a cluster, serving the query parts its coordinator sends until
//! SIGTERM or SIGINT.

use std::io::Write;

use zicht_engine::cluster::{ClusterOptions, WorkerOptions, serve_worker};

use crate::Failure;
use crate::args::WorkerArgs;
use crate::data::open_engine;

pub async fn run(args: WorkerArgs) -> Result<(), Failure> {
    let token = token(args.cluster.cluster_token)?;
    // Opened as the coordinator opens it: the same catalog, the same data, checked here first.
    open_engine(&args.warehouse).await?;
    let secret_key = crate::data::secret_key(args.warehouse.secret_key.as_deref())?;
    let memory_limit = args.memory_limit.map(|size| usize::try_from(size.as_u64()).unwrap_or(usize::MAX));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.listen)))?;
    let address = listener.local_addr()?;
    // On stdout, so scripts and tests that ask for port 0 learn the port.
    println!("zicht worker: listening on {address}; stop with Ctrl-C or SIGTERM");
    std::io::stdout().flush()?;
    serve_worker(WorkerOptions { secret_key, token, memory_limit }, listener, crate::serve_cmd::shutdown_signal())
        .await?;
    eprintln!("zicht worker: stopped");
    Ok(())
}

/// The workers and token of a coordinator.
pub fn cluster_options(workers: &[String], token_given: Option<String>) -> Result<ClusterOptions, Failure> {
    ClusterOptions::new(workers, token(token_given)?).map_err(Failure::new)
}

fn token(given: Option<String>) -> Result<String, Failure> {
    given.ok_or_else(|| {
        Failure::new("a cluster needs a token shared by all its processes: set ZICHT_CLUSTER_TOKEN or --cluster-token")
    })
}
