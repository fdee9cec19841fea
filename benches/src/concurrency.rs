//! Throughput of concurrent wire clients: each client has its own connection and runs the saved
//! queries in a loop, starting at a different query so that the mix in flight is the suite's,
//! until the time is up; queries in flight then finish and count.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::results::Throughput;
use crate::suite::BenchResult;

pub async fn throughput(
    queries: &[String],
    clients: usize,
    duration: Duration,
    connect: impl AsyncFn() -> BenchResult<tokio_postgres::Client>,
) -> BenchResult<Throughput> {
    let sqls: Vec<String> = queries.to_vec();
    if sqls.is_empty() || clients == 0 {
        return Err("concurrency needs at least one query and one client".into());
    }
    // Connect everyone first: connection set-up is not what is measured.
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(connect().await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for (index, client) in connections.into_iter().enumerate() {
        let sqls = sqls.clone();
        let first = index * sqls.len() / clients;
        tasks.spawn(async move {
            let (mut completed, mut errors) = (0, 0);
            for sql in sqls.iter().cycle().skip(first) {
                if Instant::now() >= deadline {
                    break;
                }
                match client.query(sql.as_str(), &[]).await {
                    Ok(_) => completed += 1,
                    Err(_) => errors += 1,
                }
            }
            (completed, errors)
        });
    }
    let (mut completed, mut errors) = (0, 0);
    while let Some(outcome) = tasks.join_next().await {
        let (done, failed) = outcome?;
        completed += done;
        errors += failed;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Throughput { clients, seconds, completed, errors, queries_per_second: completed as f64 / seconds })
}
