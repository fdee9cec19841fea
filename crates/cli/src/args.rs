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
    /// Serve the warehouse over the PostgreSQL wire protocol (psql, BI tools).
    Serve(ServeArgs),
    /// Print a SCRAM-SHA-256 verifier for a password (read from stdin), for [[server.users]].
    Passwd(PasswdArgs),
    /// Run a saved theme query (an indicator), e.g. `zicht run drugs/verdachten_inwoners`.
    Run(RunArgs),
    /// List the saved theme queries.
    Queries(QueriesArgs),
    /// Run a worker of a cluster: it runs the parts of queries its coordinator
    /// (`zicht serve --workers`) sends; see docs/cluster.md.
    Worker(WorkerArgs),
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Address to listen on, e.g. 10.0.0.2:50051 (port 0: any free port, printed on stdout).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub cluster: ClusterTokenArgs,
    /// Upper bound of memory for the query parts this worker runs, e.g. 8GiB; half the
    /// machine's memory when unset.
    #[arg(long, env = "ZICHT_MEMORY_LIMIT")]
    pub memory_limit: Option<bytesize::ByteSize>,
    /// The same catalog, data directory (at the same path) and secret key as the coordinator.
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
}

/// The token every process of a cluster presents to the others.
#[derive(Args, Debug, Clone)]
pub struct ClusterTokenArgs {
    /// Shared secret of the cluster's processes (at least 16 characters); workers refuse requests
    /// without it.
    #[arg(long, env = "ZICHT_CLUSTER_TOKEN", hide_env_values = true)]
    pub cluster_token: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The saved query as theme/name (see `zicht queries list`).
    pub query: String,
    /// Only the rows of these gemeenten (CBS code, e.g. GM0363); repeatable.
    #[arg(long, value_name = "GMxxxx")]
    pub gemeente: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
}

#[derive(Args, Debug)]
pub struct QueriesArgs {
    #[command(subcommand)]
    pub action: QueriesAction,
}

#[derive(Subcommand, Debug)]
pub enum QueriesAction {
    /// One saved query: its definition as written and the SQL it runs.
    Show {
        /// The saved query as theme/name (see `zicht queries list`).
        query: String,
        /// Saved-queries directory; without it, the queries compiled into this binary.
        #[arg(long, env = "ZICHT_QUERIES_DIR")]
        queries: Option<PathBuf>,
        /// Only the SQL it runs, for scripts (the benchmark gives it to DuckDB and PostgreSQL).
        #[arg(long)]
        sql: bool,
    },
    /// Theme, name, title, unit, granularity and years of every saved query.
    List {
        /// Saved-queries directory; without it, the queries compiled into this binary.
        #[arg(long, env = "ZICHT_QUERIES_DIR")]
        queries: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file with [server], [[server.users]] and [warehouse] tables.
    #[arg(long, env = "ZICHT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1).
    #[arg(long, env = "ZICHT_LISTEN")]
    pub listen: Option<std::net::IpAddr>,
    /// Port to listen on (default 5433; 0 picks a free port and prints it).
    #[arg(long, env = "ZICHT_PORT")]
    pub port: Option<u16>,
    /// Connections beyond this are refused with SQLSTATE 53300 (default 100).
    #[arg(long, env = "ZICHT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Default statement_timeout of every connection, e.g. 5min.
    #[arg(long, env = "ZICHT_STATEMENT_TIMEOUT", value_parser = humantime::parse_duration)]
    pub statement_timeout: Option<std::time::Duration>,
    /// How long running queries may finish after SIGTERM/SIGINT (default 30s).
    #[arg(long, env = "ZICHT_SHUTDOWN_GRACE", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Option<std::time::Duration>,
    /// Memory for query execution (sorts, joins, aggregates), e.g. 4GiB; default half the
    /// machine's memory. A query that needs more gets SQLSTATE 53200; the server lives.
    #[arg(long, env = "ZICHT_MEMORY_LIMIT")]
    pub memory_limit: Option<bytesize::ByteSize>,
    /// Queries over protected data that compute at once; more wait their turn (statement_timeout
    /// counts the wait). Default twice the cores: a protecting aggregation holds its tallies until
    /// it is done, and sixteen at once on two cores are not faster than four.
    #[arg(long, env = "ZICHT_MAX_CONCURRENT_QUERIES", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_queries: Option<u32>,
    /// TLS certificate chain (PEM); with --tls-key, TLS is offered and required.
    #[arg(long, env = "ZICHT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "ZICHT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Append one JSON line per statement (user, fingerprint, outcome) to this file.
    #[arg(long, env = "ZICHT_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Coordinate a cluster: run queries over protected data on these workers (`zicht worker`),
    /// as host:port, comma-separated; needs the cluster token.
    #[arg(long, env = "ZICHT_WORKERS", value_delimiter = ',')]
    pub workers: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterTokenArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
}

#[derive(Args, Debug)]
pub struct PasswdArgs {
    /// PBKDF2 iterations (PostgreSQL's default is 4096).
    #[arg(long, default_value_t = 4096)]
    pub iterations: u32,
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
    /// Secret key of the cell-key perturbation; without it, the key in the secret-key file beside
    /// the default dataset (made on first use, readable only by you).
    #[arg(long, env = "ZICHT_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Saved-queries directory (`<theme>/<name>.toml` indicators, `<theme>/<name>.sql` queries), served as views; without it, the queries
    /// compiled into this binary.
    #[arg(long, env = "ZICHT_QUERIES_DIR")]
    pub queries: Option<PathBuf>,
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
    /// Run at the trusted access level (free SQL below aggregates, still protected against
    /// accidental disclosure); without it, the untrusted level's canonical SQL applies.
    #[arg(long)]
    pub trusted: bool,
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
