//! A coordinator with two `zicht worker` processes on loopback gives the same answers as one
//! process: every sqllogictest file (the saved queries' golden results among them) runs through
//! it. And the cluster fails closed: a worker with another secret, a coordinator without the
//! worker's token and a worker that is gone each stop the query with a clear error.

#[path = "../../engine/tests/common/slt_files.rs"]
mod slt_files;

#[path = "../../engine/tests/common/slt_db.rs"]
mod slt_db;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqllogictest::Runner;
use zicht_engine::cluster::ClusterOptions;
use zicht_engine::{Engine, EngineError, EngineOptions};

const SECRET: &str = "zicht-test-secret-golden";
const TOKEN: &str = "cluster-test-token-0123456789";

/// A `zicht worker` process, stopped when dropped.
struct WorkerProcess {
    child: Child,
    address: String,
}

impl WorkerProcess {
    fn start(data: &Path, secret: &str, listen: &str) -> WorkerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zicht"))
            .args(["worker", "--listen", listen, "--data"])
            .arg(data)
            .env("ZICHT_SECRET_KEY", secret)
            .env("ZICHT_CLUSTER_TOKEN", TOKEN)
            .env("ZICHT_MEMORY_LIMIT", "2GiB")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start zicht worker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line
            .strip_prefix("zicht worker: listening on ")
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("unexpected first line of the worker: {line:?}"))
            .to_string();
        WorkerProcess { child, address }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Warehouse {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
}

fn warehouse() -> Warehouse {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = zicht_catalog::Catalog::embedded().unwrap();
    zicht_gen::generate(&catalog, &zicht_gen::GenConfig { scale: 0.01, seed: 42 }, &data, &mut |_| {}).unwrap();
    Warehouse { _dir: dir, data }
}

async fn coordinator(data: &Path, workers: &[&WorkerProcess], token: &str) -> Engine {
    let catalog = zicht_catalog::Catalog::embedded().unwrap();
    let queries = zicht_catalog::queries::embedded().unwrap();
    let addresses: Vec<String> = workers.iter().map(|w| w.address.clone()).collect();
    // Small tasks, so that the small test tables are read by both workers.
    let cluster = ClusterOptions::new(&addresses, token).unwrap().with_bytes_per_task(64 << 10);
    let options =
        EngineOptions::new(catalog, data).with_saved_queries(queries).with_secret_key(SECRET).with_cluster(cluster);
    Engine::open(options).await.unwrap()
}

const PROTECTED: &str = "SELECT b.gm_code, count(*) AS personen FROM basis.persoon p \
                         JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code";

/// A query's error, with a deadline: a cluster that hangs fails the test instead.
async fn outcome(engine: &Engine, sql: &str) -> Result<usize, EngineError> {
    let session = engine.session("analist");
    let run = async {
        let released = session.sql(sql).await?;
        Ok(released.collect().await?.iter().map(|b| b.num_rows()).sum())
    };
    tokio::time::timeout(Duration::from_secs(120), run).await.expect("the query ended within two minutes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_gives_the_answers_of_one_process() {
    let warehouse = warehouse();
    let workers = [
        WorkerProcess::start(&warehouse.data, SECRET, "127.0.0.1:0"),
        WorkerProcess::start(&warehouse.data, SECRET, "127.0.0.1:0"),
    ];
    let engine = coordinator(&warehouse.data, &[&workers[0], &workers[1]], TOKEN).await;

    // The plan really has stages on the workers, and the protected scans run there.
    let plan = engine.session("analist").physical_plan(PROTECTED).await.unwrap();
    let shown = zicht_engine::datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string();
    assert!(zicht_engine::cluster::reads_protected_on_workers(&plan), "{shown}");

    let mut failures = Vec::new();
    for file in slt_files::slt_files() {
        let engine = engine.clone();
        let mut runner = Runner::new(move || {
            let session = engine.session("slt");
            async move { Ok(slt_db::Zicht { session }) }
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_fails_closed() {
    let warehouse = warehouse();
    // A plan is split only over two or more workers: with one, it runs in the coordinator.
    let first = WorkerProcess::start(&warehouse.data, SECRET, "127.0.0.1:0");
    let mut second = WorkerProcess::start(&warehouse.data, SECRET, "127.0.0.1:0");

    // A worker keyed with another secret: no cells released with other noise.
    let stranger = WorkerProcess::start(&warehouse.data, "another-secret-of-16-chars", "127.0.0.1:0");
    let engine = coordinator(&warehouse.data, &[&first, &stranger], TOKEN).await;
    let error = outcome(&engine, PROTECTED).await.unwrap_err();
    assert!(error.to_string().contains("another secret key"), "{error}");
    assert_eq!(error.sqlstate(), "58000");

    // A coordinator without the workers' token is refused.
    let impostor = coordinator(&warehouse.data, &[&first, &second], "not-the-cluster-token-at-all").await;
    let error = outcome(&impostor, PROTECTED).await.unwrap_err();
    assert!(error.to_string().contains("cluster token"), "{error}");

    // With the token, the workers answer; public queries never need them.
    let engine = coordinator(&warehouse.data, &[&first, &second], TOKEN).await;
    assert_eq!(outcome(&engine, PROTECTED).await.unwrap(), 339);
    assert!(outcome(&engine, "SELECT count(*) FROM regio.gemeente").await.is_ok());

    // A worker that is gone: a clear error, no hang; the coordinator keeps serving what it can.
    let address = second.address.clone();
    second.stop();
    let error = outcome(&engine, PROTECTED).await.unwrap_err();
    assert!(error.to_string().contains("could not be reached"), "{error}");
    assert!(outcome(&engine, "SELECT count(*) FROM regio.gemeente").await.is_ok());

    // Restarted on its address, it is used again.
    let _restarted = WorkerProcess::start(&warehouse.data, SECRET, &address);
    let mut answered = None;
    for _ in 0..20 {
        answered = outcome(&engine, PROTECTED).await.ok();
        if answered.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(answered, Some(339), "the restarted worker was not used again");
}
