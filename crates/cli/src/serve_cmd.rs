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

/// The configuration file: `[server]` (with `[[server.users]]` and `[server.tls]`) and `[warehouse]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    server: ServerConfig,
    warehouse: WarehouseFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WarehouseFile {
    data: Option<PathBuf>,
    catalog: Option<PathBuf>,
    queries: Option<PathBuf>,
    secret_key: Option<String>,
    memory_limit: Option<String>,
    audit_log: Option<PathBuf>,
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
    let audit = match args.audit_log.clone().or(file.warehouse.audit_log) {
        Some(path) => {
            Some(JsonLinesAudit::open(&path).map_err(|e| Failure::new(format!("audit log {}: {e}", path.display())))?)
        }
        None => None,
    };
    let engine = open_engine_with(&warehouse, |mut options| {
        if let Some(bytes) = memory_limit {
            options = options.with_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
        }
        if let Some(audit) = audit {
            options = options.with_audit(Arc::new(audit));
        }
        options
    })
    .await?;
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

fn parse_size(text: &str) -> Result<u64, Failure> {
    text.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| Failure::new(format!("memory_limit {text:?}: {e}")))
}

async fn shutdown_signal() {
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
