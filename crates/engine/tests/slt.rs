//! Runs the sqllogictest files in tests/slt/ (and its subfolders) in-process, on the default
//! dataset (scale 0.01, seed 42) generated once into a temporary directory, with the saved theme
//! queries as views. The same files run over the wire from the wire server's tests.
//!
//! `ZICHT_SLT_COMPLETE=1 cargo test -p zicht-engine --test slt` rewrites the expected output of
//! the saved queries' golden files (tests/slt/queries/) with what the engine returns: review the
//! diff before committing it. Hand-written files are never rewritten.

#[path = "common/slt_files.rs"]
mod slt_files;

use slt_files::slt_files;

use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Runner, default_column_validator, default_normalizer, default_validator,
};
use zicht_engine::datafusion::arrow::datatypes::DataType;
use zicht_engine::datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use zicht_engine::{Engine, EngineError, EngineOptions, Session};

struct Zicht {
    session: Session,
}

#[async_trait::async_trait]
impl AsyncDB for Zicht {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let released = self.session.sql(sql).await?;
        let schema = released.schema();
        let batches = released.collect().await?;
        let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters: Vec<_> =
                batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
            for row in 0..batch.num_rows() {
                rows.push(formatters.iter().map(|f| same_as_wire(f.value(row).to_string())).collect());
            }
        }
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "zicht"
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    if data_type.is_integer() {
        DefaultColumnType::Integer
    } else if data_type.is_floating() {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

/// Floats as Rust (and the wire test's client) print them: `15` rather than Arrow's `15.0`, so
/// that one expected output serves both runners.
fn same_as_wire(value: String) -> String {
    match value.parse::<f64>() {
        Ok(float) if value.contains('.') || value.contains('e') => float.to_string(),
        _ => value,
    }
}

#[tokio::test]
async fn sqllogictest_files_pass_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = zicht_catalog::Catalog::embedded().unwrap();
    zicht_gen::generate(&catalog, &zicht_gen::GenConfig { scale: 0.01, seed: 42 }, &data, &mut |_| {}).unwrap();
    let queries = zicht_catalog::queries::embedded().unwrap();
    let engine = Engine::open(
        EngineOptions::new(catalog, &data).with_saved_queries(queries).with_secret_key("zicht-test-secret-golden"),
    )
    .await
    .unwrap();
    let complete = std::env::var_os("ZICHT_SLT_COMPLETE").is_some();
    let files = slt_files();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for file in &files {
        let engine = engine.clone();
        let mut runner = Runner::new(move || {
            let session = engine.session("slt");
            async move { Ok(Zicht { session }) }
        });
        let outcome = if complete && file.parent().is_some_and(|dir| dir.ends_with("queries")) {
            runner
                .update_test_file(file, " ", default_validator, default_normalizer, default_column_validator)
                .await
                .map_err(|e| e.to_string())
        } else {
            runner.run_file_async(file).await.map_err(|e| e.to_string())
        };
        if let Err(e) = outcome {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
