//! Measures what protection costs: the same aggregate queries on a protected engine and on an
//! unprotected one (the test-and-benchmark-only mode) over the same data.
//!
//! ```sh
//! cargo run --release -p zicht-cli -- gen --scale 0.1 --out /tmp/zicht-s01
//! cargo run --release -p zicht-engine --example protection_overhead -- /tmp/zicht-s01 5
//! ```

use std::time::Instant;

use zicht_engine::{Engine, EngineOptions};

/// Theme-style indicators: per region and year counts, sums, means and shares over protected rows.
const QUERIES: &[(&str, &str)] = &[
    (
        "persons per gemeente",
        "SELECT b.gm_code, count(*) FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code",
    ),
    (
        "income per buurt",
        "SELECT bu_code, avg(inkomen), median(inkomen) FROM basis.persoon WHERE geboortejaar <= 2006 GROUP BY bu_code",
    ),
    (
        "WOZ per wijk and eigendom",
        "SELECT b.wk_code, w.eigendom, count(*), sum(w.woz_waarde) FROM basis.woning w JOIN regio.buurt b ON w.bu_code = b.bu_code GROUP BY b.wk_code, w.eigendom",
    ),
    (
        "unexplained purchases per gemeente and year",
        "SELECT b.gm_code, t.jaar, count(*), avg(CASE WHEN t.koopsom > t.max_financiering THEN 1.0 ELSE 0.0 END) FROM vastgoed.transactie t JOIN basis.woning w ON t.woning_id = w.woning_id JOIN regio.buurt b ON w.bu_code = b.bu_code GROUP BY b.gm_code, t.jaar",
    ),
    (
        "drug suspects per feit and year",
        "SELECT feit_code, jaar, count(DISTINCT persoon_id) FROM drugs.verdachte GROUP BY feit_code, jaar",
    ),
    (
        "youth risk factors per gemeente",
        "SELECT b.gm_code, k.jaar, count(*) FILTER (WHERE k.jeugdreclassering), count(*) FROM jongeren.kenmerk k JOIN basis.persoon p ON k.persoon_id = p.persoon_id JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code, k.jaar",
    ),
    (
        "pgb per provider conviction",
        "SELECT z.veroordeeld, d.jaar, sum(d.bedrag), count(*) FROM zorgfraude.pgb_declaratie d JOIN zorgfraude.zorgaanbieder z ON d.aanbieder_id = z.aanbieder_id GROUP BY z.veroordeeld, d.jaar",
    ),
    (
        "vulnerable branches per gemeente",
        "SELECT b.gm_code, count(*) FROM basis.vestiging v JOIN ref.sbi s ON v.sbi_code = s.sbi_code JOIN regio.buurt b ON v.bu_code = b.bu_code WHERE s.kwetsbaar GROUP BY b.gm_code",
    ),
];

async fn median_seconds(
    engine: &Engine,
    sql: &str,
    iterations: usize,
) -> Result<(f64, usize), Box<dyn std::error::Error>> {
    let session = engine.session("bench");
    let mut times = Vec::with_capacity(iterations);
    let mut rows = 0;
    session.sql(sql).await?.collect().await?; // warm-up
    for _ in 0..iterations {
        let started = Instant::now();
        let batches = session.sql(sql).await?.collect().await?;
        times.push(started.elapsed().as_secs_f64());
        rows = batches.iter().map(|b| b.num_rows()).sum();
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], rows))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = args.next().ok_or("usage: protection_overhead <data dir> [iterations]")?;
    let iterations: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(5);
    let options =
        EngineOptions::new(zicht_catalog::Catalog::embedded()?, &data).with_secret_key("protection-overhead-example");
    let protected = Engine::open(options.clone()).await?;
    let unprotected = Engine::open(options.unprotected_for_tests_and_benchmarks_only()).await?;
    println!("| query | unprotected (s) | protected (s) | ratio | rows released / unprotected |");
    println!("|---|---:|---:|---:|---:|");
    let (mut total_off, mut total_on, mut log_ratio) = (0.0, 0.0, 0.0);
    for (name, sql) in QUERIES {
        let (off, rows_off) = median_seconds(&unprotected, sql, iterations).await?;
        let (on, rows_on) = median_seconds(&protected, sql, iterations).await?;
        total_off += off;
        total_on += on;
        log_ratio += (on / off).ln();
        println!("| {name} | {off:.3} | {on:.3} | {:.2} | {rows_on} / {rows_off} |", on / off);
    }
    let geometric = (log_ratio / QUERIES.len() as f64).exp();
    println!(
        "| **suite** | {total_off:.3} | {total_on:.3} | {:.2} (geometric mean {geometric:.2}) | |",
        total_on / total_off
    );
    Ok(())
}
