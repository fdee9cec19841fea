//! The red-team suite: attacks on the disclosure control, grouped by the families of
//! docs/threat-model.md, each judged against an insider's ground truth read straight from the
//! Parquet files, at both access levels.
//!
//! An attack returns a [`Verdict`]: refused (the rule it met), defended (it ran, but what it
//! learned is not a disclosure by its own criterion) or disclosed. The suite prints a table per
//! family and level and fails if anything is disclosed at the untrusted level, or at the trusted
//! level in a family the trusted level promises to close (1, 3, 4, 6, 7, 9).
//!
//! Data: the default dataset (scale 0.01, seed 42), generated once into a temporary directory.

#[path = "common/rows.rs"]
mod rows;
#[path = "common/test_cluster.rs"]
mod test_cluster;

mod redteam {
    pub mod decisions;
    pub mod differencing;
    pub mod errors;
    pub mod identity;
    pub mod insider;
    pub mod joins;
    pub mod metadata;
    pub mod noise;
    pub mod other;
    pub mod quantiles;
    pub mod secret;
}

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use redteam::insider::Insider;
use zicht_engine::{AccessLevel, Engine, EngineError, EngineOptions};

pub const SECRET: &str = "red-team-secret-not-for-deployments";

/// The families of docs/threat-model.md, and one for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    CancellingNoise = 1,
    WrittenValues = 2,
    Errors = 3,
    Quantiles = 4,
    WeightingJoins = 5,
    UnitIdentity = 6,
    Metadata = 7,
    Differencing = 8,
    Secret = 9,
    Other = 10,
}

impl Family {
    fn title(self) -> &'static str {
        match self {
            Family::CancellingNoise => "1 noise that cancels or averages away",
            Family::WrittenValues => "2 decisions on analyst-written values",
            Family::Errors => "3 errors that depend on one row",
            Family::Quantiles => "4 quantiles by rows",
            Family::WeightingJoins => "5 joins that weight units",
            Family::UnitIdentity => "6 unit identity and the catalog",
            Family::Metadata => "7 metadata",
            Family::Differencing => "8 differencing, padding, reconstruction",
            Family::Secret => "9 the secret",
            Family::Other => "10 other",
        }
    }

    /// Families the trusted level promises to close as well.
    fn closed_when_trusted(self) -> bool {
        !matches!(self, Family::WrittenValues | Family::WeightingJoins | Family::Differencing)
    }
}

#[derive(Debug, Clone)]
pub enum Verdict {
    Refused(String),
    Defended(String),
    Disclosed(String),
}

pub type Attempt<'a> = Pin<Box<dyn Future<Output = Verdict> + 'a>>;

pub struct Attack {
    pub family: Family,
    pub name: &'static str,
    pub run: for<'a> fn(&'a World, AccessLevel) -> Attempt<'a>,
}

/// Boxes an async attack function for the table of attacks.
#[macro_export]
macro_rules! attack {
    ($family:expr, $name:ident) => {
        $crate::Attack { family: $family, name: stringify!($name), run: |w, level| Box::pin($name(w, level)) }
    };
}

pub use rows::Rows;

pub struct World {
    pub engine: Engine,
    pub insider: Insider,
    pub data: PathBuf,
    _dir: tempfile::TempDir,
}

impl World {
    async fn open() -> World {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let catalog = zicht_catalog::Catalog::embedded().unwrap();
        zicht_gen::generate(&catalog, &zicht_gen::GenConfig { scale: 0.01, seed: 42 }, &data, &mut |_| {}).unwrap();
        let queries = zicht_catalog::queries::embedded().unwrap();
        let options = EngineOptions::new(catalog, &data).with_secret_key(SECRET).with_saved_queries(queries);
        let engine = Engine::open(test_cluster::maybe_clustered(options, SECRET).await).await.unwrap();
        let insider = Insider::read(&data);
        World { engine, insider, data, _dir: dir }
    }

    /// Runs `sql` as user `user` (each attack its own user, so budgets do not mix).
    pub async fn run(&self, level: AccessLevel, user: &str, sql: &str) -> Result<Rows, EngineError> {
        let batches = self.engine.session_at(user, level).sql(sql).await?.collect().await?;
        Ok(rows::text_rows(&batches))
    }

    /// The single numeric value of a one-row answer (None when suppressed); a refusal or another
    /// error ends the attack with that verdict.
    pub async fn value(&self, level: AccessLevel, user: &str, sql: &str) -> Result<Option<f64>, Verdict> {
        let rows = self.run(level, user, sql).await.map_err(stopped)?;
        let cell = rows.first().and_then(|r| r.first()).cloned().flatten();
        Ok(cell.map(|text| text.parse::<f64>().unwrap_or(f64::NAN)))
    }

    /// The single numeric value of `sql` in one session after the statements `settings` (SETs).
    pub async fn value_after(
        &self,
        level: AccessLevel,
        user: &str,
        settings: &[String],
        sql: &str,
    ) -> Result<Option<f64>, Verdict> {
        let session = self.engine.session_at(user, level);
        for setting in settings {
            session.sql(setting).await.map_err(stopped)?.collect().await.map_err(stopped)?;
        }
        let batches = session.sql(sql).await.map_err(stopped)?.collect().await.map_err(stopped)?;
        Ok(first_number(&rows::text_rows(&batches)))
    }

    /// All rows, or the verdict of the refusal.
    pub async fn rows(&self, level: AccessLevel, user: &str, sql: &str) -> Result<Rows, Verdict> {
        self.run(level, user, sql).await.map_err(stopped)
    }
}

/// How an attack ends when the engine refuses or fails a query.
pub fn stopped(error: EngineError) -> Verdict {
    match error {
        EngineError::Suppression(refusal) => Verdict::Refused(refusal.rule.to_string()),
        other => Verdict::Defended(format!("failed with {}: {other}", other.sqlstate())),
    }
}

/// Ends an attack early with the verdict of a refused query.
#[macro_export]
macro_rules! ask {
    ($e:expr) => {
        match $e.await {
            Ok(value) => value,
            Err(verdict) => return verdict,
        }
    };
}

fn all_attacks() -> Vec<Attack> {
    let mut attacks = Vec::new();
    attacks.extend(redteam::noise::attacks());
    attacks.extend(redteam::decisions::attacks());
    attacks.extend(redteam::errors::attacks());
    attacks.extend(redteam::quantiles::attacks());
    attacks.extend(redteam::joins::attacks());
    attacks.extend(redteam::identity::attacks());
    attacks.extend(redteam::metadata::attacks());
    attacks.extend(redteam::differencing::attacks());
    attacks.extend(redteam::secret::attacks());
    attacks.extend(redteam::other::attacks());
    attacks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_red_team_finds_no_disclosure() {
    let world = World::open().await;
    let attacks = all_attacks();
    assert!(attacks.len() >= 60, "{} attacks", attacks.len());
    let mut results = Vec::new();
    for attack in &attacks {
        for level in [AccessLevel::Untrusted, AccessLevel::Trusted] {
            let started = std::time::Instant::now();
            let verdict = (attack.run)(&world, level).await;
            // Every verdict with its reason, for whoever reads the test output.
            println!("{:<48} {level:<9} {:>6} ms  {verdict:?}", attack.name, started.elapsed().as_millis());
            results.push((attack.family, attack.name, level, verdict));
        }
    }
    println!("{}", report(&results));
    let failures: Vec<String> = results
        .iter()
        .filter(|(family, _, level, verdict)| {
            matches!(verdict, Verdict::Disclosed(_))
                && (*level == AccessLevel::Untrusted || family.closed_when_trusted())
        })
        .map(|(family, name, level, verdict)| format!("{} / {name} at {level}: {verdict:?}", family.title()))
        .collect();
    assert!(failures.is_empty(), "disclosures:\n{}", failures.join("\n"));
}

/// Per family and level: attacks, refused, defended, disclosed; then every disclosure.
fn report(results: &[(Family, &str, AccessLevel, Verdict)]) -> String {
    let mut families: Vec<Family> = results.iter().map(|r| r.0).collect();
    families.dedup();
    let mut out = String::from(
        "| family | attacks | untrusted: refused / defended / disclosed | trusted: refused / defended / disclosed |\n|---|---|---|---|\n",
    );
    let count = |family: Family, level: AccessLevel, kind: fn(&Verdict) -> bool| {
        results.iter().filter(|r| r.0 == family && r.2 == level && kind(&r.3)).count()
    };
    for family in families {
        let attacks = results.iter().filter(|r| r.0 == family && r.2 == AccessLevel::Untrusted).count();
        let cells = [AccessLevel::Untrusted, AccessLevel::Trusted].map(|level| {
            format!(
                "{} / {} / {}",
                count(family, level, |v| matches!(v, Verdict::Refused(_))),
                count(family, level, |v| matches!(v, Verdict::Defended(_))),
                count(family, level, |v| matches!(v, Verdict::Disclosed(_)))
            )
        });
        out.push_str(&format!("| {} | {attacks} | {} | {} |\n", family.title(), cells[0], cells[1]));
    }
    for (family, name, level, verdict) in results {
        if let Verdict::Disclosed(detail) = verdict {
            out.push_str(&format!("\ndisclosed at {level}: {} / {name}: {detail}", family.title()));
        }
    }
    out
}

/// The relative error of an estimate.
pub fn relative_error(estimate: f64, truth: f64) -> f64 {
    (estimate - truth).abs() / truth.abs().max(1.0)
}

/// The median of some numbers (NaN for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Reads a cell as f64.
pub fn number(cell: &Option<String>) -> Option<f64> {
    cell.as_ref().and_then(|text| text.parse().ok())
}

/// A released value as f64, for checks on one-column results.
pub fn first_number(rows: &Rows) -> Option<f64> {
    rows.first().and_then(|r| r.first()).and_then(number)
}
