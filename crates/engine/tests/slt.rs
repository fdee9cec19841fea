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

#[path = "common/slt_db.rs"]
mod slt_db;

use slt_db::Zicht;
use sqllogictest::{Runner, default_column_validator, default_normalizer, default_validator};
use zicht_engine::{Engine, EngineOptions};

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
