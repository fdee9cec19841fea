//! The saved-query suite as a benchmark: data generated once per scale, each saved query run
//! once to warm up and then timed, per mode.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::oneshot;
use zicht_catalog::SavedQuery;
use zicht_engine::{Engine, EngineOptions};
use zicht_pgwire::{Server, ServerConfig};

use crate::concurrency;
use crate::results::{Iteration, QueryRun, Results};
use crate::{Mode, RunArgs};

pub type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

#[derive(Serialize)]
struct Context {
    benchmark: &'static str,
    zicht_version: &'static str,
    datafusion_version: &'static str,
    num_cpus: usize,
    start_time: u64,
    scale: f64,
    seed: u64,
    iterations: usize,
    /// Peak resident memory (VmHWM) while the queries ran one at a time, in bytes.
    peak_rss_bytes: Option<u64>,
    /// Peak resident memory during the concurrency levels, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency_peak_rss_bytes: Option<u64>,
}

pub async fn run(args: RunArgs) -> BenchResult<()> {
    std::fs::create_dir_all(&args.output)?;
    let queries: Vec<SavedQuery> = zicht_catalog::queries::embedded()?
        .into_iter()
        .chain(adhoc_queries(&args.adhoc)?)
        .filter(|q| args.filter.as_ref().is_none_or(|f| q.id().contains(f.as_str())))
        .collect();
    for &scale in &args.scales {
        let data = dataset(&args.data_root, scale, args.seed)?;
        let report = run_scale(&args, &queries, scale, &data).await?;
        let path = args.output.join(format!("scale-{scale}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

async fn run_scale(args: &RunArgs, queries: &[SavedQuery], scale: f64, data: &Path) -> BenchResult<Results> {
    let start_time = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    reset_peak_rss();
    let protected = open_engine(data, queries, true).await?;
    let unprotected = open_engine(data, queries, false).await?;
    let needs_server = args.modes.contains(&Mode::Wire) || !args.clients.is_empty();
    let wire = match needs_server {
        true => Some(WireServer::start(protected.clone()).await?),
        false => None,
    };
    let mut runs = Vec::new();
    for query in queries {
        // Protected, a saved query is read through its view, as analysts and BI tools do: it runs
        // as reviewed catalog code at the trusted level, whatever the reader's level. An ad-hoc
        // query runs as written, at the untrusted level.
        let view = view_sql(&protected, query);
        for &mode in &args.modes {
            let outcome = match mode {
                Mode::Protected => time_in_process(&protected, &view, args.iterations).await,
                Mode::Unprotected => time_in_process(&unprotected, &query.sql, args.iterations).await,
                Mode::Wire => time_over_wire(wire.as_ref().expect("started above"), &view, args.iterations).await,
            };
            runs.push(record(scale, query, mode, outcome));
        }
    }
    let serial_peak = peak_rss_bytes();
    let mut concurrency = Vec::new();
    if let Some(wire) = wire {
        reset_peak_rss();
        let duration = std::time::Duration::from_secs_f64(args.concurrency_seconds);
        for &clients in &args.clients {
            let views: Vec<String> = queries.iter().map(|q| view_sql(&protected, q)).collect();
            let throughput = concurrency::throughput(&views, clients, duration, async || wire.connect().await).await?;
            eprintln!(
                "scale {scale} {clients} clients: {:.2} queries/s ({} in {:.1} s, {} errors)",
                throughput.queries_per_second, throughput.completed, throughput.seconds, throughput.errors
            );
            concurrency.push(throughput);
        }
        wire.stop().await;
    }
    let context = Context {
        benchmark: "zicht saved-query suite",
        zicht_version: env!("CARGO_PKG_VERSION"),
        datafusion_version: zicht_engine::datafusion::DATAFUSION_VERSION,
        num_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        start_time,
        scale,
        seed: args.seed,
        iterations: args.iterations,
        peak_rss_bytes: serial_peak,
        concurrency_peak_rss_bytes: (!concurrency.is_empty()).then(peak_rss_bytes).flatten(),
    };
    Ok(Results { context: serde_json::to_value(context)?, queries: runs, concurrency })
}

fn record(scale: f64, query: &SavedQuery, mode: Mode, outcome: BenchResult<Vec<Iteration>>) -> QueryRun {
    let (iterations, error) = match outcome {
        Ok(iterations) => (iterations, None),
        Err(error) => (Vec::new(), Some(error.to_string())),
    };
    let run = QueryRun { query: query.id(), mode: mode.name().to_string(), iterations, error };
    match (&run.error, run.median_ms()) {
        (Some(error), _) => eprintln!("scale {scale} {} {}: error {error}", run.query, run.mode),
        (None, median) => eprintln!(
            "scale {scale} {} {}: median {:.1} ms, {} rows",
            run.query,
            run.mode,
            median.unwrap_or(f64::NAN),
            run.row_count().unwrap_or(0)
        ),
    }
    run
}

/// `SELECT * FROM theme.name ORDER BY ...`: a saved query through its view, in its own order; an
/// ad-hoc query as it is.
fn view_sql(engine: &Engine, query: &SavedQuery) -> String {
    let Some(view) = engine.saved_views().iter().find(|v| v.query.id() == query.id()) else {
        return query.sql.clone();
    };
    match view.order_by.as_str() {
        "" => format!("SELECT * FROM {}.{}", query.theme, query.name),
        order => format!("SELECT * FROM {}.{} ORDER BY {order}", query.theme, query.name),
    }
}

/// The ad-hoc queries in `dir` (`<group>/<name>.sql`, a comment line saying what each asks), as
/// queries named `group/name`; none when the folder does not exist.
pub(crate) fn adhoc_queries(dir: &Path) -> BenchResult<Vec<SavedQuery>> {
    let mut queries = Vec::new();
    let Ok(groups) = std::fs::read_dir(dir) else { return Ok(queries) };
    let mut groups: Vec<PathBuf> = groups.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    groups.sort();
    for group in groups {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&group)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            let name = |p: &Path| {
                p.file_stem().or(p.file_name()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
            };
            let title = text.lines().next().unwrap_or_default().trim_start_matches("--").trim().to_string();
            queries.push(SavedQuery {
                theme: name(&group),
                name: name(&file),
                title,
                description: String::new(),
                unit: String::new(),
                granularity: String::new(),
                years: String::new(),
                deviation: Vec::new(),
                sql: text.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"),
                definition: None,
                file: file.display().to_string(),
            });
        }
    }
    Ok(queries)
}

/// The dataset of a scale, generated on first use.
pub(crate) fn dataset(root: &Path, scale: f64, seed: u64) -> BenchResult<PathBuf> {
    let dir = root.join(format!("s{scale}-seed{seed}"));
    if !dir.is_dir() {
        eprintln!("generating scale {scale} into {}", dir.display());
        let catalog = zicht_catalog::Catalog::embedded()?;
        zicht_gen::generate(&catalog, &zicht_gen::GenConfig { scale, seed }, &dir, &mut |_| {})?;
    }
    Ok(dir)
}

async fn open_engine(data: &Path, queries: &[SavedQuery], protected: bool) -> BenchResult<Engine> {
    let mut options = EngineOptions::new(zicht_catalog::Catalog::embedded()?, data)
        .with_saved_queries(queries.to_vec())
        .with_secret_key("zicht-benchmark-secret-not-for-deployments");
    if !protected {
        options = options.unprotected_for_tests_and_benchmarks_only();
    }
    Ok(Engine::open(options).await?)
}

/// Plans, executes and collects every row, as a client would receive them.
async fn time_in_process(engine: &Engine, sql: &str, iterations: usize) -> BenchResult<Vec<Iteration>> {
    let session = engine.session("bench");
    timed(iterations, async || {
        let mut released = session.sql(sql).await?;
        let mut row_count = 0;
        while let Some(batch) = released.next().await {
            row_count += batch?.num_rows();
        }
        Ok(row_count)
    })
    .await
}

/// The same over the wire: extended protocol, binary rows decoded by the client.
async fn time_over_wire(server: &WireServer, sql: &str, iterations: usize) -> BenchResult<Vec<Iteration>> {
    let client = server.connect().await?;
    timed(iterations, async || Ok(client.query(sql, &[]).await?.len())).await
}

/// One warm-up run, then `iterations` timed runs of `run` (which returns the rows it received).
async fn timed(iterations: usize, run: impl AsyncFn() -> BenchResult<usize>) -> BenchResult<Vec<Iteration>> {
    run().await?;
    let mut timed = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let row_count = run().await?;
        timed.push(Iteration { elapsed_ms: started.elapsed().as_secs_f64() * 1000.0, row_count });
    }
    Ok(timed)
}

/// The wire server on a free loopback port, in this process, in trust mode.
struct WireServer {
    port: u16,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl WireServer {
    async fn start(engine: Engine) -> BenchResult<WireServer> {
        let server = Server::bind(engine, ServerConfig { port: 0, ..ServerConfig::default() }).await?;
        let port = server.local_addr()?.port();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(WireServer { port, stop, done })
    }

    pub async fn connect(&self) -> BenchResult<tokio_postgres::Client> {
        connect_loopback(self.port, "bench").await
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.done.await;
    }
}

/// A client of a wire server on a loopback port, in trust mode, as `user`.
pub(crate) async fn connect_loopback(port: u16, user: &str) -> BenchResult<tokio_postgres::Client> {
    let config = format!("host=127.0.0.1 port={port} user={user} dbname=zicht");
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Starts a new peak-memory measurement (Linux: "5" resets VmHWM; elsewhere nothing happens).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM from /proc (Linux); None elsewhere.
fn peak_rss_bytes() -> Option<u64> {
    memory_status_bytes("self", "VmHWM:")
}

/// A memory figure (`VmRSS:`, `VmHWM:`) of a process (`self` or a pid) from /proc (Linux), in
/// bytes; None elsewhere.
pub(crate) fn memory_status_bytes(process: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
