//! `zicht serve`: the PostgreSQL wire server, configured from a TOML file, flags and environment
//! variables (in rising order of precedence), stopped gracefully by SIGTERM or SIGINT.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use zicht_engine::JsonLinesAudit;
use zicht_pgwire::{Server, ServerConfig, TlsConfig};

use crate::Failure;
use crate::args::{ServeArgs, WarehouseArgs};
use crate::data::open_engine_with;

/// The configuration file: `[server]` (with `[[server.users]]` and `[server.tls]`), `[warehouse]`
/// and `[cluster]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    server: ServerConfig,
    warehouse: WarehouseFile,
    cluster: ClusterFile,
}

/// The workers this server coordinates (`--workers`, `--cluster-token`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ClusterFile {
    workers: Vec<String>,
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WarehouseFile {
    data: Option<PathBuf>,
    catalog: Option<PathBuf>,
    queries: Option<PathBuf>,
    secret_key: Option<String>,
    memory_limit: Option<String>,
    /// Queries over protected data that compute at once (`--max-concurrent-queries`).
    max_concurrent_queries: Option<u32>,
    audit_log: Option<PathBuf>,
    /// Distinct questions an untrusted user may ask of one protected table per period.
    query_budget: Option<u32>,
    /// The budget's period, e.g. "1day".
    budget_period: Option<String>,
}

pub async fn run(args: ServeArgs) -> Result<(), Failure> {
    let file = match &args.config {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    };
    let server_config = server_config(file.server, &args);
    let warehouse = WarehouseArgs {
        data: args.warehouse.data.clone().or(file.warehouse.data),
        catalog: args.warehouse.catalog.clone().or(file.warehouse.catalog),
        secret_key: args.warehouse.secret_key.clone().or(file.warehouse.secret_key),
        queries: args.warehouse.queries.clone().or(file.warehouse.queries),
    };
    let memory_limit = match (args.memory_limit, file.warehouse.memory_limit) {
        (Some(size), _) => Some(size.as_u64()),
        (None, Some(text)) => Some(parse_size(&text)?),
        (None, None) => None,
    };
    let max_concurrent_queries = args.max_concurrent_queries.or(file.warehouse.max_concurrent_queries);
    if max_concurrent_queries == Some(0) {
        return Err(Failure::new("max_concurrent_queries: at least 1".to_string()));
    }
    if warehouse.secret_key.is_none() && !server_config.listen.is_loopback() {
        return Err(Failure::new(format!(
            "refusing to listen on {} without a configured secret key: set ZICHT_SECRET_KEY or [warehouse] secret_key \
             (the key file beside the default dataset is for local use only)",
            server_config.listen
        )));
    }
    let audit_path = args.audit_log.clone().or(file.warehouse.audit_log);
    let audit = match &audit_path {
        Some(path) => {
            Some(JsonLinesAudit::open(path).map_err(|e| Failure::new(format!("audit log {}: {e}", path.display())))?)
        }
        None => None,
    };
    let budget = budget_policy(file.warehouse.query_budget, file.warehouse.budget_period.as_deref())?;
    let workers = if args.workers.is_empty() { file.cluster.workers } else { args.workers.clone() };
    let cluster = match workers.is_empty() {
        true => None,
        false => Some(crate::worker_cmd::cluster_options(
            &workers,
            args.cluster.cluster_token.clone().or(file.cluster.token),
        )?),
    };
    let engine = open_engine_with(&warehouse, |mut options| {
        if let Some(bytes) = memory_limit {
            options = options.with_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
        }
        if let Some(queries) = max_concurrent_queries {
            options = options.with_max_concurrent_queries(queries as usize);
        }
        if let Some(audit) = audit {
            options = options.with_audit(Arc::new(audit));
        }
        if let Some(cluster) = cluster {
            options = options.with_cluster(cluster);
        }
        options.with_budget(budget)
    })
    .await?;
    if let Some(path) = &audit_path {
        zicht_engine::restore_budget(path, engine.budget())
            .map_err(|e| Failure::new(format!("audit log {}: {e}", path.display())))?;
    }
    let server = Server::bind(engine, server_config).await.map_err(|e| Failure::new(e.to_string()))?;
    let address = server.local_addr()?;
    // On stdout, so scripts and tests that ask for port 0 learn the port.
    println!("zicht: listening on {address} (database {}); stop with Ctrl-C or SIGTERM", zicht_pgwire::DATABASE);
    std::io::stdout().flush()?;
    server.run(shutdown_signal()).await;
    eprintln!("zicht: server stopped");
    Ok(())
}

fn read_config(path: &Path) -> Result<ConfigFile, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Failure::new(format!("{}: {}", path.display(), e.message())))
}

fn server_config(mut config: ServerConfig, args: &ServeArgs) -> ServerConfig {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(max) = args.max_connections {
        config.max_connections = max;
    }
    if let Some(timeout) = args.statement_timeout {
        config.statement_timeout = (!timeout.is_zero()).then_some(timeout);
    }
    if let Some(grace) = args.shutdown_grace {
        config.shutdown_grace = grace;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(TlsConfig { cert: cert.clone(), key: key.clone(), required: true });
    }
    config
}

fn budget_policy(questions: Option<u32>, period: Option<&str>) -> Result<zicht_engine::BudgetPolicy, Failure> {
    let mut policy = zicht_engine::BudgetPolicy::default();
    if let Some(questions) = questions {
        policy.questions = questions;
    }
    if let Some(text) = period {
        policy.period = humantime::parse_duration(text).ok().filter(|d| d.as_secs() >= 60).ok_or_else(|| {
            Failure::new(format!("budget_period {text:?}: a duration of at least a minute, e.g. \"1day\""))
        })?;
    }
    Ok(policy)
}

fn parse_size(text: &str) -> Result<u64, Failure> {
    text.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| Failure::new(format!("memory_limit {text:?}: {e}")))
}

pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    eprintln!("zicht: shutting down; running queries may finish");
}
