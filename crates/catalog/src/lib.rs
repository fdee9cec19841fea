//! The Zicht catalog: what the warehouse serves.
//!
//! One TOML file a table, grouped by schema (`catalog/<schema>/<table>.toml`), plus
//! `catalog/warehouse.toml` with the warehouse-wide suppression defaults. A table file names its
//! columns (Arrow type, description, unit, role), its protection class (`public`, or `protected`
//! with the unit columns per entity type), its key column if it has one, and its data source,
//! relative to the data directory.
//!
//! Every column that could single out a person, address or company is declared as such: a column
//! named `*_id` in a protected table must be a unit column, a row id (`role = "row-id"`) or a
//! reference to something public (`role = "reference"`); the catalog does not load otherwise.
//!
//! Loading validates everything and reports every problem with the file it is in; nothing here
//! touches DataFusion, so the generator, the engine and the CLI can all share it.
//!
//! ```
//! let catalog = zicht_catalog::Catalog::embedded().unwrap();
//! let buurt = catalog.table("regio", "buurt").unwrap();
//! assert!(!buurt.is_protected());
//! ```

pub mod indicator;
mod model;
pub mod queries;
mod raw;

use std::path::{Path, PathBuf};

pub use model::{Catalog, ColumnDef, ColumnRole, EntityType, Protection, SuppressionParams, TableDef};
pub use queries::SavedQuery;

/// The catalog shipped with this build (the repository's `catalog/` folder).
static EMBEDDED: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../catalog");

/// One thing wrong with the catalog, with the file it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} problem(s) in the catalog:\n{}", .0.len(), format_problems(.0))]
    Invalid(Vec<Problem>),
}

fn format_problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// A catalog file as text, named by its path relative to the catalog root (`basis/persoon.toml`).
struct SourceFile {
    relative_path: String,
    text: String,
}

impl Catalog {
    /// The catalog compiled into this build.
    pub fn embedded() -> Result<Catalog> {
        let mut files = Vec::new();
        collect_embedded(&EMBEDDED, &mut files);
        Catalog::from_files(files)
    }

    /// Loads and validates the catalog in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Catalog> {
        let mut files = Vec::new();
        collect_dir(dir, dir, &mut files)?;
        Catalog::from_files(files)
    }

    fn from_files(mut files: Vec<SourceFile>) -> Result<Catalog> {
        files.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
        let mut problems = Vec::new();
        let warehouse = match files.iter().find(|f| f.relative_path == "warehouse.toml") {
            Some(file) => raw::parse_warehouse(&file.relative_path, &file.text, &mut problems),
            None => {
                problems.push(Problem { file: "warehouse.toml".into(), message: "missing".into() });
                None
            }
        };
        let defaults = warehouse.as_ref().map(|w| w.suppression).unwrap_or_default();
        let tables = files
            .iter()
            .filter(|f| f.relative_path != "warehouse.toml")
            .filter_map(|f| raw::parse_table(&f.relative_path, &f.text, &defaults, &mut problems))
            .collect::<Vec<_>>();
        if tables.is_empty() && problems.is_empty() {
            problems.push(Problem { file: ".".into(), message: "the catalog defines no tables".into() });
        }
        match warehouse {
            Some(warehouse) if problems.is_empty() => Ok(Catalog { warehouse, tables }),
            _ => Err(CatalogError::Invalid(problems)),
        }
    }

    /// Problems with the data files behind the catalog in `data_dir`: sources that do not exist.
    pub fn missing_sources(&self, data_dir: &Path) -> Vec<Problem> {
        self.tables
            .iter()
            .filter(|t| !data_dir.join(&t.source).exists())
            .map(|t| Problem {
                file: t.file.clone(),
                message: format!("data source {} not found in {}", t.source, data_dir.display()),
            })
            .collect()
    }
}

fn collect_embedded(dir: &include_dir::Dir<'static>, out: &mut Vec<SourceFile>) {
    for file in dir.files() {
        if file.path().extension().is_some_and(|e| e == "toml") {
            out.push(SourceFile {
                relative_path: file.path().to_string_lossy().replace('\\', "/"),
                text: String::from_utf8_lossy(file.contents()).into_owned(),
            });
        }
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

fn collect_dir(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> Result<()> {
    let io_err = |source| CatalogError::Io { path: dir.to_path_buf(), source };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.is_dir() {
            collect_dir(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            let text =
                std::fs::read_to_string(&path).map_err(|source| CatalogError::Io { path: path.clone(), source })?;
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push(SourceFile { relative_path: relative.to_string_lossy().replace('\\', "/"), text });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
