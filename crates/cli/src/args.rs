//! The command line, declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "zicht", version, about = "Zicht: disclosure-safe regional statistics on the Zicht op themes")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate the synthetic warehouse (Parquet) at a scale (1 = the Netherlands).
    Gen(GenArgs),
    /// Run one SQL statement in-process; every result passes the suppression layer.
    Query(QueryArgs),
    /// Check or list the catalog.
    Catalog(CatalogArgs),
}

/// Where the warehouse lives; shared by the commands that open it.
#[derive(Args, Debug, Clone)]
pub struct WarehouseArgs {
    /// Data directory; without it, the embedded default dataset (generated on first use).
    #[arg(long, env = "ZICHT_DATA_DIR")]
    pub data: Option<PathBuf>,
    /// Catalog directory; without it, the catalog compiled into this binary.
    #[arg(long, env = "ZICHT_CATALOG_DIR")]
    pub catalog: Option<PathBuf>,
    /// Secret key of the cell-key perturbation.
    #[arg(long, env = "ZICHT_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Scale: 1 is the Netherlands (17.9 million persons), 0.01 a small test set.
    #[arg(long, default_value_t = 0.01)]
    pub scale: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory (replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, env = "ZICHT_CATALOG_DIR")]
    pub catalog: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The SQL statement.
    pub sql: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
}

#[derive(Args, Debug)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub action: CatalogAction,
}

#[derive(Subcommand, Debug)]
pub enum CatalogAction {
    /// Validate the catalog, and the data behind it when a data directory is given.
    Check {
        #[command(flatten)]
        warehouse: WarehouseArgs,
    },
    /// List schemas, tables, protection classes and columns.
    List {
        #[arg(long, env = "ZICHT_CATALOG_DIR")]
        catalog: Option<PathBuf>,
        /// Also list the columns of each table.
        #[arg(long)]
        columns: bool,
    },
}
