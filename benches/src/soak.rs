//! The soak: `zicht serve` as its own process (the release binary) under concurrent wire clients
//! for a long run. Each client loops over the saved queries (through their views) and the ad-hoc
//! queries; every few statements one is cancelled while it runs, and every few more the client
//! drops its connection and connects again. Measured: statements by outcome, latency (p50, p99),
//! the server's resident memory every second, and whether the audit log has one line for every
//! statement sent. Anything but a result or, for a cancelled statement, SQLSTATE 57014 is an
//! unexpected error.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::SoakArgs;
use crate::suite::{BenchResult, adhoc_queries, connect_loopback, dataset, memory_status_bytes};

/// What one client saw.
#[derive(Default)]
struct ClientTally {
    completed: u64,
    cancelled: u64,
    reconnects: u64,
    unexpected: Vec<String>,
    latencies_ms: Vec<f64>,
}

#[derive(Serialize)]
struct SoakReport {
    scale: f64,
    seed: u64,
    clients: usize,
    seconds: f64,
    statements: u64,
    completed: u64,
    cancelled: u64,
    reconnects: u64,
    unexpected_errors: usize,
    first_unexpected: Vec<String>,
    p50_ms: f64,
    p99_ms: f64,
    statements_per_second: f64,
    /// The server's resident memory, sampled every second: (seconds since start, bytes).
    rss: Vec<(f64, u64)>,
    rss_after_warmup_min: u64,
    rss_after_warmup_max: u64,
    rss_end: u64,
    audit_lines: u64,
    server_exit: String,
}

pub async fn run(args: SoakArgs) -> BenchResult<()> {
    let data = dataset(&args.target.data_root, args.scale, args.seed)?;
    let statements = statements(&args.adhoc)?;
    let work = PathBuf::from("target/soak");
    std::fs::create_dir_all(&work)?;
    let audit = work.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let port = free_port()?;
    let mut server = start_server(&args.target.server, &data, port, &audit, &work, &[])?;
    let outcome = soak(&args, port, server.id(), statements).await;
    let server_exit = stop_server(&mut server);
    let (tallies, rss, seconds) = outcome?;
    let report = summarise(&args, tallies, rss, seconds, count_lines(&audit)?, server_exit);
    print_summary(&report);
    std::fs::create_dir_all(&args.output)?;
    let path = args.output.join(format!("soak-scale-{}.json", args.scale));
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {}", path.display());
    let sent = report.statements;
    if report.unexpected_errors > 0 || report.audit_lines != sent {
        return Err(format!(
            "soak failed: {} unexpected errors, {} audit lines for {sent} statements",
            report.unexpected_errors, report.audit_lines
        )
        .into());
    }
    Ok(())
}

/// The saved queries through their views, then the ad-hoc queries as an analyst writes them.
fn statements(adhoc: &Path) -> BenchResult<Vec<String>> {
    let saved =
        zicht_catalog::queries::embedded()?.into_iter().map(|q| format!("SELECT * FROM {}.{}", q.theme, q.name));
    Ok(saved.chain(adhoc_queries(adhoc)?.into_iter().map(|q| q.sql)).collect())
}

pub(crate) fn free_port() -> BenchResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `zicht serve` on `data` with an audit log, its output in `work/server.log`, and `extra` arguments.
pub(crate) fn start_server(
    binary: &Path,
    data: &Path,
    port: u16,
    audit: &Path,
    work: &Path,
    extra: &[&str],
) -> BenchResult<Child> {
    if !binary.is_file() {
        return Err(format!("no server binary at {} (cargo build --release -p zicht-cli)", binary.display()).into());
    }
    let log = std::fs::File::create(work.join("server.log"))?;
    let child = Command::new(binary)
        .args(["serve", "--port", &port.to_string(), "--data"])
        .arg(data)
        .arg("--audit-log")
        .arg(audit)
        .args(extra)
        .env("ZICHT_SECRET_KEY", "zicht-soak-secret-not-for-deployments")
        .env("XDG_DATA_HOME", work)
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()?;
    Ok(child)
}

/// SIGTERM, then the grace period; what the process exited with.
pub(crate) fn stop_server(server: &mut Child) -> String {
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.try_wait() {
            return status.to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    "killed after 60 s without exiting".into()
}

async fn connect(port: u16) -> BenchResult<Client> {
    connect_loopback(port, "soak").await
}

pub(crate) async fn wait_for_server(port: u16) -> BenchResult<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match connect(port).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(format!("the server did not answer: {e}").into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

type Outcome = (Vec<ClientTally>, Vec<(f64, u64)>, f64);

async fn soak(args: &SoakArgs, port: u16, pid: u32, statements: Vec<String>) -> BenchResult<Outcome> {
    wait_for_server(port).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let rss = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn(sample_rss(pid, started, deadline, rss.clone()));
    let statements = Arc::new(statements);
    let mut tasks = JoinSet::new();
    for index in 0..args.clients {
        let first = index * statements.len() / args.clients;
        let plan = ClientPlan {
            port,
            first,
            deadline,
            cancel_every: args.cancel_every,
            reconnect_every: args.reconnect_every,
        };
        tasks.spawn(client_loop(plan, statements.clone()));
    }
    let mut tallies = Vec::new();
    while let Some(tally) = tasks.join_next().await {
        tallies.push(tally??);
    }
    let seconds = started.elapsed().as_secs_f64();
    sampler.await?;
    let rss = std::mem::take(&mut *rss.lock().await);
    Ok((tallies, rss, seconds))
}

async fn sample_rss(pid: u32, started: Instant, deadline: Instant, samples: Arc<Mutex<Vec<(f64, u64)>>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // Past the deadline too, while the last statements finish; stops when the clients are done.
    let end = deadline + Duration::from_secs(5);
    while Instant::now() < end {
        tick.tick().await;
        if let Some(bytes) = memory_status_bytes(&pid.to_string(), "VmRSS:") {
            samples.lock().await.push((started.elapsed().as_secs_f64(), bytes));
        }
    }
}

struct ClientPlan {
    port: u16,
    first: usize,
    deadline: Instant,
    cancel_every: u64,
    reconnect_every: u64,
}

async fn client_loop(plan: ClientPlan, statements: Arc<Vec<String>>) -> BenchResult<ClientTally> {
    let mut tally = ClientTally::default();
    let mut client = connect(plan.port).await?;
    let mut n: u64 = 0;
    while Instant::now() < plan.deadline {
        n += 1;
        if n.is_multiple_of(plan.reconnect_every) {
            drop(client);
            client = connect(plan.port).await?;
            tally.reconnects += 1;
        }
        let sql = &statements[(plan.first + n as usize) % statements.len()];
        let cancel = n.is_multiple_of(plan.cancel_every);
        run_one(&client, sql, cancel, &mut tally).await;
    }
    Ok(tally)
}

/// One statement; when `cancel`, a cancel request follows it after 20 ms, and is waited for before
/// the next statement so that it can only meet this one.
async fn run_one(client: &Client, sql: &str, cancel: bool, tally: &mut ClientTally) {
    let canceller = cancel.then(|| {
        let token = client.cancel_token();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = token.cancel_query(NoTls).await;
        })
    });
    let started = Instant::now();
    let outcome = client.simple_query(sql).await;
    if let Some(canceller) = canceller {
        let _ = canceller.await;
    }
    match outcome {
        Ok(_) => {
            tally.completed += 1;
            tally.latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Err(e) if cancel && e.code() == Some(&SqlState::QUERY_CANCELED) => tally.cancelled += 1,
        Err(e) => {
            let code = e.code().map(|c| c.code().to_string()).unwrap_or_else(|| "no SQLSTATE".into());
            tally.unexpected.push(format!("{code}: {e} ({sql:.60})"));
        }
    }
}

fn count_lines(path: &Path) -> BenchResult<u64> {
    Ok(std::fs::read_to_string(path).unwrap_or_default().lines().count() as u64)
}

fn summarise(
    args: &SoakArgs,
    tallies: Vec<ClientTally>,
    rss: Vec<(f64, u64)>,
    seconds: f64,
    audit_lines: u64,
    server_exit: String,
) -> SoakReport {
    let mut latencies: Vec<f64> = tallies.iter().flat_map(|t| t.latencies_ms.iter().copied()).collect();
    latencies.sort_by(f64::total_cmp);
    let percentile =
        |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    let unexpected: Vec<String> = tallies.iter().flat_map(|t| t.unexpected.iter().cloned()).collect();
    let (completed, cancelled) = (tallies.iter().map(|t| t.completed).sum(), tallies.iter().map(|t| t.cancelled).sum());
    let statements = completed + cancelled + unexpected.len() as u64;
    // Warm-up: the first tenth of the run (caches, the allocator's arenas, every plan once).
    let warm: Vec<u64> = rss.iter().filter(|(at, _)| *at >= seconds / 10.0).map(|(_, bytes)| *bytes).collect();
    SoakReport {
        scale: args.scale,
        seed: args.seed,
        clients: args.clients,
        seconds,
        statements,
        completed,
        cancelled,
        reconnects: tallies.iter().map(|t| t.reconnects).sum(),
        unexpected_errors: unexpected.len(),
        first_unexpected: unexpected.into_iter().take(10).collect(),
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
        statements_per_second: statements as f64 / seconds,
        rss_after_warmup_min: warm.iter().copied().min().unwrap_or(0),
        rss_after_warmup_max: warm.iter().copied().max().unwrap_or(0),
        rss_end: rss.last().map(|(_, bytes)| *bytes).unwrap_or(0),
        rss,
        audit_lines,
        server_exit,
    }
}

fn print_summary(report: &SoakReport) {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "soak: {} clients, {:.0} s, scale {}: {} statements ({} completed, {} cancelled, {} unexpected errors), {} reconnects, {:.1} statements/s",
        report.clients,
        report.seconds,
        report.scale,
        report.statements,
        report.completed,
        report.cancelled,
        report.unexpected_errors,
        report.reconnects,
        report.statements_per_second
    );
    println!("latency: p50 {:.0} ms, p99 {:.0} ms", report.p50_ms, report.p99_ms);
    println!(
        "server RSS after warm-up: {:.0}-{:.0} MiB, at the end {:.0} MiB",
        mib(report.rss_after_warmup_min),
        mib(report.rss_after_warmup_max),
        mib(report.rss_end)
    );
    println!(
        "audit log: {} lines for {} statements; server exit: {}",
        report.audit_lines, report.statements, report.server_exit
    );
    for error in &report.first_unexpected {
        println!("unexpected: {error}");
    }
}
