//! `zicht gen`: the synthetic dataset, with progress and the calibration report.

use std::path::Path;

use zicht_catalog::Catalog;
use zicht_gen::{GenConfig, Progress};

use crate::Failure;
use crate::args::GenArgs;
use crate::data::load_catalog;

pub fn run(args: GenArgs) -> Result<(), Failure> {
    let catalog = load_catalog(args.catalog.as_deref())?;
    let summary = generate(&catalog, args.scale, args.seed, &args.out)?;
    println!("{:<50} {:>14} {:>14} {:>7}", "calibration (target x scale)", "target", "actual", "ratio");
    for row in &summary.calibration {
        let digits = if row.target.abs() < 10.0 { 4 } else { 0 };
        println!("{:<50} {:>14.*} {:>14.*} {:>7.3}", row.quantity, digits, row.target, digits, row.actual, row.ratio());
    }
    let bytes: u64 = summary.tables.iter().map(|t| t.bytes).sum();
    println!("{} tables, {:.1} MiB, in {:.1} s", summary.tables.len(), bytes as f64 / 1048576.0, summary.seconds);
    Ok(())
}

/// Generates into `out`, printing progress to stderr.
pub fn generate(catalog: &Catalog, scale: f64, seed: u64, out: &Path) -> Result<zicht_gen::GenSummary, Failure> {
    let config = GenConfig { scale, seed };
    let mut progress = |p: &Progress| match p {
        Progress::TableStarted { .. } => {}
        Progress::TableFinished { table, rows, seconds, .. } => {
            eprintln!("  {table:<34} {rows:>12} rows {seconds:>7.1} s");
        }
    };
    zicht_gen::generate(catalog, &config, out, &mut progress).map_err(|e| Failure::new(e.to_string()))
}
