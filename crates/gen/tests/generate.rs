//! The generator as its users rely on it: deterministic, schema-exact, calibrated, atomic.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{AsArray, Int64Array};
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use zicht_catalog::Catalog;
use zicht_gen::{GenConfig, GenError, generate, ground_truth_path};

fn generate_at(out: &Path, scale: f64, seed: u64) -> zicht_gen::GenSummary {
    generate(&Catalog::embedded().unwrap(), &GenConfig { scale, seed }, out, &mut |_| {}).unwrap()
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn read(path: &Path) -> Vec<arrow::record_batch::RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    reader.map(|b| b.unwrap()).collect()
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_differs() {
    let dir = tempfile::tempdir().unwrap();
    generate_at(&dir.path().join("a"), 0.01, 7);
    generate_at(&dir.path().join("b"), 0.01, 7);
    generate_at(&dir.path().join("c"), 0.01, 8);
    let (a, b, c) = (files(&dir.path().join("a")), files(&dir.path().join("b")), files(&dir.path().join("c")));
    assert_eq!(a.len(), 22, "21 tables and the ground truth");
    assert_eq!(a, b);
    assert_ne!(a.get("basis/persoon.parquet"), c.get("basis/persoon.parquet"));
    // Region tables are real data: the same for every seed.
    assert_eq!(a.get("regio/buurt.parquet"), c.get("regio/buurt.parquet"));
}

#[test]
fn every_table_is_written_with_the_catalog_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let summary = generate_at(&out, 0.01, 42);
    let catalog = Catalog::embedded().unwrap();
    assert_eq!(summary.tables.len(), catalog.tables.len());
    for table in &catalog.tables {
        let path = out.join(&table.source);
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let schema = builder.schema();
        let expected = table.arrow_schema();
        assert_eq!(schema.fields().len(), expected.fields().len(), "{}", table.qualified_name());
        for (actual, wanted) in schema.fields().iter().zip(expected.fields()) {
            assert_eq!(actual.name(), wanted.name(), "{}", table.qualified_name());
            assert_eq!(actual.data_type(), wanted.data_type(), "{}.{}", table.qualified_name(), wanted.name());
        }
        let rows = summary.tables.iter().find(|s| s.table == table.qualified_name()).unwrap().rows;
        assert!(rows > 0, "{} is empty", table.qualified_name());
    }
}

#[test]
fn regions_are_the_real_ones_and_dwellings_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    generate_at(&out, 0.01, 42);
    let buurten = read(&out.join("regio/buurt.parquet"));
    assert_eq!(buurten.iter().map(|b| b.num_rows()).sum::<usize>(), 14_574);
    let gemeenten = read(&out.join("regio/gemeente.parquet"));
    let inwoners: i64 = gemeenten
        .iter()
        .map(|b| b.column_by_name("inwoners").unwrap().as_primitive::<Int64Type>().iter().flatten().sum::<i64>())
        .sum();
    assert_eq!(inwoners, 17_942_942);
    // Buurt dwellings sum to their wijk's.
    let mut per_wijk: BTreeMap<String, i64> = BTreeMap::new();
    for b in &buurten {
        let wk = b.column_by_name("wk_code").unwrap().as_string::<i32>();
        let woningen: &Int64Array = b.column_by_name("woningen").unwrap().as_primitive();
        for i in 0..b.num_rows() {
            *per_wijk.entry(wk.value(i).to_string()).or_default() += woningen.value(i);
        }
    }
    for w in read(&out.join("regio/wijk.parquet")) {
        let wk = w.column_by_name("wk_code").unwrap().as_string::<i32>();
        let woningen: &Int64Array = w.column_by_name("woningen").unwrap().as_primitive();
        for i in 0..w.num_rows() {
            if let Some(sum) = per_wijk.get(wk.value(i)) {
                assert_eq!(*sum, woningen.value(i), "{}", wk.value(i));
            }
        }
    }
}

#[test]
fn persons_and_dwellings_match_the_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate_at(&dir.path().join("data"), 0.01, 42);
    for quantity in ["inwoners", "woningvoorraad", "transacties 2023", "FIU-meldingen 2023", "pgb-zorgaanbieders"] {
        let row = summary.calibration.iter().find(|r| r.quantity == quantity).unwrap();
        assert!((row.ratio() - 1.0).abs() < 0.05, "{quantity}: {row:?}");
    }
}

#[test]
fn bad_scales_are_refused_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY, 5.0] {
        let result = generate(&Catalog::embedded().unwrap(), &GenConfig { scale, seed: 1 }, &out, &mut |_| {});
        assert!(matches!(result, Err(GenError::Scale(_))), "{scale}");
    }
    assert!(!out.exists());
}

#[test]
fn a_rerun_replaces_the_dataset_atomically_and_writes_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    generate_at(&out, 0.01, 1);
    generate_at(&out, 0.01, 2);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "data")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ground_truth_path(&out)).unwrap()).unwrap();
    let spots = truth.as_array().unwrap();
    assert!(spots.len() >= 10);
    let codes: Vec<&str> = spots.iter().map(|s| s["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"GM0917"), "Heerlen hennep is planted");
    assert!(spots.iter().all(|s| !s["naam"].as_str().unwrap().is_empty()));
}
