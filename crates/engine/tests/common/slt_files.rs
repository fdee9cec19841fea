//! The sqllogictest files, shared by the in-process runner (crates/engine/tests/slt.rs) and the
//! wire runner (crates/pgwire/tests/wire.rs), so both run exactly the same files.

use std::path::{Path, PathBuf};

/// Every `.slt` file under tests/slt/, subfolders included, in a stable order.
pub fn slt_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/slt"), &mut files);
    files.sort();
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "slt") {
            files.push(path);
        }
    }
}
