//! Generates a dataset and prints per-table progress and the calibration report, so the
//! generator can be timed on its own: `cargo run -p zicht-gen --release --example gen -- 1 42 /tmp/zicht-s1`.

use std::path::PathBuf;
use std::process::ExitCode;

use zicht_catalog::Catalog;
use zicht_gen::{GenConfig, Progress, generate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(scale), Some(seed), Some(out)) = (
        args.first().and_then(|s| s.parse::<f64>().ok()),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
        args.get(2).map(PathBuf::from),
    ) else {
        eprintln!("usage: gen SCALE SEED OUT_DIR");
        return ExitCode::from(2);
    };
    let catalog = match Catalog::embedded() {
        Ok(catalog) => catalog,
        Err(error) => {
            eprintln!("catalog: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut progress = |p: &Progress| match p {
        Progress::TableStarted { table } => eprintln!("  {table} ..."),
        Progress::TableFinished { table, rows, bytes, seconds } => {
            eprintln!("  {table:<34} {rows:>12} rows {:>9.1} MiB {seconds:>7.1} s", *bytes as f64 / 1_048_576.0)
        }
    };
    match generate(&catalog, &GenConfig { scale, seed }, &out, &mut progress) {
        Ok(summary) => {
            println!("{:<52} {:>16} {:>16} {:>7}", "quantity (target x scale)", "target", "actual", "ratio");
            for row in &summary.calibration {
                println!("{:<52} {:>16.2} {:>16.2} {:>7.3}", row.quantity, row.target, row.actual, row.ratio());
            }
            let rows: u64 = summary.tables.iter().map(|t| t.rows).sum();
            let bytes: u64 = summary.tables.iter().map(|t| t.bytes).sum();
            println!(
                "{} tables, {rows} rows, {:.1} MiB, in {:.1} s",
                summary.tables.len(),
                bytes as f64 / 1_048_576.0,
                summary.seconds
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
