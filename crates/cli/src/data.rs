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

/// Zicht's own directory: `$XDG_DATA_HOME/zicht`, else `~/.local/share/zicht`, else `.zicht` in
/// the working directory.
fn state_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .map(|dir| dir.join("zicht"))
        .unwrap_or_else(|| PathBuf::from(".zicht"))
}

/// Where the default dataset lives, in Zicht's own directory.
fn default_data_dir() -> PathBuf {
    state_dir().join(format!("default-s{DEFAULT_SCALE}-seed{DEFAULT_SEED}-v{}", env!("CARGO_PKG_VERSION")))
}

/// The secret-key file used when no key is configured, beside the default dataset.
pub fn secret_key_file() -> PathBuf {
    state_dir().join("secret-key")
}

/// The configured secret, or the one in the secret-key file (made on first use, and said so).
pub fn secret_key(configured: Option<&str>) -> Result<String, Failure> {
    if let Some(secret) = configured {
        if secret.len() < 16 {
            return Err(Failure::new("the secret key must be at least 16 characters long"));
        }
        return Ok(secret.to_string());
    }
    let path = secret_key_file();
    let (secret, source) = zicht_engine::secret::load_or_create(&path)?;
    if source == zicht_engine::secret::SecretSource::Created {
        eprintln!(
            "zicht: no secret key configured; created a random one in {} (readable only by you). \
             Keep it: answers depend on it. Deployments set ZICHT_SECRET_KEY.",
            path.display()
        );
    }
    Ok(secret)
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
    let secret = secret_key(args.secret_key.as_deref())?;
    let options = EngineOptions::new(catalog, data).with_saved_queries(queries).with_secret_key(secret);
    Ok(Engine::open(configure(options)).await?)
}
