//! The protecting aggregation's paths, each on data built for it: a unit column that is the
//! table's key (running summaries, no map) against the same units tallied per unit, several unit
//! types in one table (persons and households), the threshold at k - 1, k and k + 2 units, one
//! household dominating a count, and a memory limit that a query cannot fit in.
//!
//! The same persons are stored twice: `basis.persoon` declares `persoon_id` its key, so persons
//! take the streamed path; `basis.persoon_kopie` declares no key, so they are tallied. Households
//! are tallied in both. Both paths must make the same decisions.

#[path = "common/rows.rs"]
mod rows;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rows::{Rows, text_rows};
use zicht_engine::datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use zicht_engine::datafusion::parquet::arrow::ArrowWriter;
use zicht_engine::{AccessLevel, Engine, EngineError, EngineOptions};

const K: usize = 10;

fn table(name: &str, key: &str) -> String {
    format!(
        r#"description = "persons"
class = "protected"
source = "{name}.parquet"
{key}
units = {{ persoon = "persoon_id", huishouden = "huishouden_id" }}
columns = [
  {{ name = "persoon_id", type = "Int64", description = "id", nullable = false }},
  {{ name = "huishouden_id", type = "Int64", description = "household", nullable = false }},
  {{ name = "bu_code", type = "Utf8", description = "buurt", nullable = false }},
]"#
    )
}

/// Per buurt: its households' sizes, and whether a count of its persons may be released.
fn buurten() -> Vec<(&'static str, Vec<usize>, Released)> {
    use Released::*;
    vec![
        // 40 persons, but only 4 households: too few units of one type.
        ("BU_A", vec![10; 4], Never),
        // k - 1 persons and households: below the hard floor.
        ("BU_B", vec![1; K - 1], Never),
        // Exactly k: the noisy threshold (k + 0, 1 or 2) decides, the same way every time.
        ("BU_C", vec![1; K], Either),
        // k + 2: above every noisy threshold.
        ("BU_D", vec![1; K + 2], Always),
        // 34 persons in 15 households, one of them holding 20: it dominates the count.
        ("BU_E", std::iter::once(20).chain(std::iter::repeat_n(1, 14)).collect(), Never),
        // 200 persons in 100 households.
        ("BU_F", vec![2; 100], Always),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Released {
    Never,
    Either,
    Always,
}

/// Writes the catalog and the two copies of the persons; returns the catalog directory.
fn build(dir: &Path) -> std::path::PathBuf {
    let catalog_dir = dir.join("catalog");
    std::fs::create_dir_all(catalog_dir.join("basis")).unwrap();
    std::fs::write(catalog_dir.join("warehouse.toml"), "name = \"paths\"\n").unwrap();
    std::fs::write(catalog_dir.join("basis/persoon.toml"), table("persoon", "key = \"persoon_id\"")).unwrap();
    std::fs::write(catalog_dir.join("basis/persoon_kopie.toml"), table("persoon_kopie", "")).unwrap();

    let (mut persons, mut households, mut codes) = (vec![], vec![], vec![]);
    let mut household = 1000;
    for (code, sizes, _) in buurten() {
        for size in sizes {
            household += 1;
            for _ in 0..size {
                persons.push(persons.len() as i64 + 1);
                households.push(household);
                codes.push(code);
            }
        }
    }
    let catalog = zicht_catalog::Catalog::load_dir(&catalog_dir).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for name in ["persoon", "persoon_kopie"] {
        let schema = catalog.table("basis", name).unwrap().arrow_schema();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(persons.clone())),
            Arc::new(Int64Array::from(households.clone())),
            Arc::new(StringArray::from(codes.clone())),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let file = std::fs::File::create(data.join(format!("{name}.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
    catalog_dir
}

async fn engine(dir: &Path, configure: impl FnOnce(EngineOptions) -> EngineOptions) -> Engine {
    let catalog = zicht_catalog::Catalog::load_dir(&build(dir)).unwrap();
    let options = EngineOptions::new(catalog, dir.join("data")).with_secret_key("paths-secret-1234");
    Engine::open(configure(options)).await.unwrap()
}

async fn run(engine: &Engine, level: AccessLevel, sql: &str) -> Result<Rows, EngineError> {
    let batches = engine.session_at("test", level).sql(sql).await?.collect().await?;
    Ok(text_rows(&batches))
}

/// The released count per buurt (groups dropped or NULL are absent).
async fn counts(engine: &Engine, level: AccessLevel, table: &str) -> BTreeMap<String, u64> {
    let sql = format!("SELECT bu_code, count(*) AS n FROM basis.{table} GROUP BY bu_code");
    let rows = run(engine, level, &sql).await.unwrap();
    rows.into_iter().filter_map(|row| Some((row[0].clone()?, row[1].as_ref()?.parse().unwrap()))).collect()
}

#[tokio::test]
async fn key_and_tallied_units_make_the_same_decisions_at_every_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), |o| o).await;
    for level in [AccessLevel::Untrusted, AccessLevel::Trusted] {
        let streamed = counts(&engine, level, "persoon").await;
        let tallied = counts(&engine, level, "persoon_kopie").await;
        assert_eq!(
            streamed.keys().collect::<Vec<_>>(),
            tallied.keys().collect::<Vec<_>>(),
            "{level}: the key path and the tallied path release different cells"
        );
        for (code, sizes, released) in buurten() {
            let persons: usize = sizes.iter().sum();
            match (released, streamed.get(code)) {
                (Released::Never, Some(n)) => panic!("{level}: {code} released ({n} of {persons} persons)"),
                (Released::Always, None) => panic!("{level}: {code} suppressed ({persons} persons)"),
                (_, Some(&n)) => {
                    assert_eq!(n % 5, 0, "{level}: {code}: {n} not rounded");
                    assert!(n.abs_diff(persons as u64) <= 5, "{level}: {code}: {n} for {persons}");
                }
                _ => {}
            }
        }
        // The cell at exactly k is decided by its units alone: asking again changes nothing.
        assert_eq!(counts(&engine, level, "persoon").await, streamed);
    }
}

#[tokio::test]
async fn household_counts_need_k_households() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), |o| o).await;
    let sql = "SELECT bu_code, count(DISTINCT huishouden_id) AS n FROM basis.persoon GROUP BY bu_code ORDER BY bu_code";
    let rows = run(&engine, AccessLevel::Untrusted, sql).await.unwrap();
    let released: Vec<&str> = rows.iter().filter(|r| r[1].is_some()).map(|r| r[0].as_deref().unwrap()).collect();
    assert!(!released.contains(&"BU_A"), "4 households released: {rows:?}");
    assert!(released.contains(&"BU_F"), "100 households suppressed: {rows:?}");
}

#[tokio::test]
async fn a_query_past_the_memory_limit_gets_a_clear_error_and_the_engine_lives() {
    let dir = tempfile::tempdir().unwrap();
    // Far too little for the aggregation's hash tables and the households' tallies (16 KiB was
    // just enough once a partial state's tallies were merged with exactly the room they need).
    let engine = engine(dir.path(), |o| o.with_memory_limit(4 * 1024)).await;
    let sql = "SELECT bu_code, count(*) FROM basis.persoon_kopie GROUP BY bu_code";
    match run(&engine, AccessLevel::Untrusted, sql).await {
        Err(e) => {
            assert_eq!(e.sqlstate(), "53200", "{e}");
            assert!(e.to_string().to_lowercase().contains("memory"), "{e}");
        }
        Ok(rows) => panic!("answered within 4 KiB: {rows:?}"),
    }
    // The limit is per query: the engine answers what fits, again and again.
    for _ in 0..3 {
        let rows = run(&engine, AccessLevel::Untrusted, "SELECT 1").await.unwrap();
        assert_eq!(rows, vec![vec![Some("1".to_string())]]);
    }
}
