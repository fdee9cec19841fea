//! Embedding Zicht in another Rust program, as one would DuckDB.
//!
//! ```sh
//! cargo run -p zicht-cli -- gen --scale 0.01 --out /tmp/zicht-data
//! cargo run -p zicht-engine --example embed -- /tmp/zicht-data
//! ```

use futures::StreamExt;
use zicht_engine::datafusion::arrow::util::pretty::pretty_format_batches;
use zicht_engine::{Engine, EngineOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::args().nth(1).ok_or("usage: embed <data directory>")?;
    // The host program owns configuration: here the secret comes from its environment.
    let secret = std::env::var("ZICHT_SECRET_KEY").unwrap_or_else(|_| "example-secret".into());
    let options = EngineOptions::new(zicht_catalog::Catalog::embedded()?, data_dir).with_secret_key(secret);
    let engine = Engine::open(options).await?;
    let session = engine.session("example");

    // Stream a protected aggregate batch by batch.
    let sql = "SELECT g.provincie, count(*) AS personen, avg(p.inkomen) AS gemiddeld_inkomen \
               FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code \
               JOIN regio.gemeente g ON b.gm_code = g.gm_code \
               GROUP BY g.provincie ORDER BY personen DESC";
    let mut released = session.sql(sql).await?;
    let mut batches = Vec::new();
    while let Some(batch) = released.next().await {
        batches.push(batch?);
    }
    println!("{}", pretty_format_batches(&batches)?);

    // A refused query is an ordinary error with a SQLSTATE.
    if let Err(refusal) = session.sql("SELECT * FROM basis.persoon").await {
        println!("refused ({}): {refusal}", refusal.sqlstate());
    }
    Ok(())
}
