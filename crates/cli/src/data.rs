//! Finding the warehouse: the catalog, the data directory, and the embedded default dataset.

use std::path::{Path, PathBuf};

use zicht_catalog::{Catalog, SavedQuery};
use zicht_engine::{Engine, EngineOptions};

use crate::Failure;
use crate::args::WarehouseArgs;

/// Scale and seed of the embedded default dataset.
pub const DEFAULT_SCALE: f64 = 0.01;
pub const DEFAULT_SEED: u64 = 42;

pub fn load_catalog(dir: Option<&Path>) -> Result<Catalog, Failure> {
    Ok(match dir {
        Some(dir) => Catalog::load_dir(dir)?,
        None => Catalog::embedded()?,
    })
}

pub fn load_saved_queries(dir: Option<&Path>) -> Result<Vec<SavedQuery>, Failure> {
    Ok(match dir {
        Some(dir) => zicht_catalog::queries::load_dir(dir)?,
        None => zicht_catalog::queries::embedded()?,
    })
}

/// Where the default dataset lives: `$XDG_DATA_HOME/zicht`, else `~/.local/share/zicht`, else
/// `.zicht` in the working directory.
fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .map(|dir| dir.join("zicht"))
        .unwrap_or_else(|| PathBuf::from(".zicht"));
    base.join(format!("default-s{DEFAULT_SCALE}-seed{DEFAULT_SEED}-v{}", env!("CARGO_PKG_VERSION")))
}

/// The data directory to open: the one given, or the default, generated on first use.
pub fn data_dir(args: &WarehouseArgs, catalog: &Catalog) -> Result<PathBuf, Failure> {
    if let Some(dir) = &args.data {
        return Ok(dir.clone());
    }
    let dir = default_data_dir();
    if !dir.is_dir() {
        eprintln!(
            "zicht: no data directory given; generating the default dataset (scale {DEFAULT_SCALE}, seed {DEFAULT_SEED}) in {}",
            dir.display()
        );
        crate::gen_cmd::generate(catalog, DEFAULT_SCALE, DEFAULT_SEED, &dir)?;
    }
    Ok(dir)
}

pub async fn open_engine(args: &WarehouseArgs) -> Result<Engine, Failure> {
    open_engine_with(args, |options| options).await
}

/// Opens the engine with options a command adds (memory limit, audit log).
pub async fn open_engine_with(
    args: &WarehouseArgs,
    configure: impl FnOnce(EngineOptions) -> EngineOptions,
) -> Result<Engine, Failure> {
    let catalog = load_catalog(args.catalog.as_deref())?;
    let data = data_dir(args, &catalog)?;
    let queries = load_saved_queries(args.queries.as_deref())?;
    let mut options = EngineOptions::new(catalog, data).with_saved_queries(queries);
    if let Some(secret) = &args.secret_key {
        options = options.with_secret_key(secret.clone());
    }
    Ok(Engine::open(configure(options)).await?)
}
