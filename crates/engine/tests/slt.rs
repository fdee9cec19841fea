//! Runs the sqllogictest files in tests/slt/ in-process, on the default dataset (scale 0.01,
//! seed 42) generated once into a temporary directory. The same files run over the wire from the
//! wire server's tests.

use std::path::{Path, PathBuf};

use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
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
                rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
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

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn sqllogictest_files_pass_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = zicht_catalog::Catalog::embedded().unwrap();
    zicht_gen::generate(&catalog, &zicht_gen::GenConfig { scale: 0.01, seed: 42 }, &data, &mut |_| {}).unwrap();
    let engine = Engine::open(EngineOptions::new(catalog, &data)).await.unwrap();
    let files = slt_files();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for file in &files {
        let engine = engine.clone();
        let mut runner = Runner::new(move || {
            let session = engine.session("slt");
            async move { Ok(Zicht { session }) }
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
