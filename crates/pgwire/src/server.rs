//! Accepting connections, the connection limit, TLS, cancel requests and graceful shutdown
//! (after mini-redis: a shutdown signal stops the accept loop, idle connections close, running
//! queries get a grace period, then whatever is left is aborted).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::{PgWireServerHandlers, RandomPidSecretKeyGenerator};
use pgwire::messages::cancel::CancelRequest;
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::process_socket;
use pgwire::tokio::tokio_rustls::rustls;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use zicht_engine::Engine;

use crate::config::{ServerConfig, TlsConfig};
use crate::connection::{CancelRegistry, QueryControl, ShutdownFlag};
use crate::handler::QueryHandler;
use crate::startup::Startup;

/// What every connection shares.
pub struct Shared {
    pub engine: Engine,
    pub config: ServerConfig,
    pub cancels: Arc<CancelRegistry>,
    pub shutdown: ShutdownFlag,
    pub pid_keys: RandomPidSecretKeyGenerator,
    tls: Option<TlsAcceptor>,
}

impl Shared {
    pub fn tls_required(&self) -> bool {
        self.config.tls.as_ref().is_some_and(|tls| tls.required)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: io::Error },
    #[error(transparent)]
    Engine(#[from] zicht_engine::EngineError),
}

/// A server ready to accept connections.
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
}

impl Server {
    /// Checks the configuration, loads TLS material, adds the PostgreSQL catalog to the engine
    /// and binds the listening socket.
    pub async fn bind(engine: Engine, config: ServerConfig) -> Result<Server, ServeError> {
        config.check().map_err(ServeError::Config)?;
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let engine = crate::catalog::install(engine)?;
        let address = config.address();
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Listen { address: address.to_string(), source })?;
        let shared = Arc::new(Shared {
            engine,
            config,
            cancels: Arc::default(),
            shutdown: ShutdownFlag::default(),
            pid_keys: RandomPidSecretKeyGenerator::default(),
            tls,
        });
        Ok(Server { shared, listener })
    }

    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then shuts down gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server { shared, listener } = self;
        let slots = Arc::new(Semaphore::new(shared.config.max_connections));
        let (stop_sender, stop) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => {
                        let slot = Arc::clone(&slots).try_acquire_owned().ok();
                        let over_limit = slot.is_none();
                        let shared = Arc::clone(&shared);
                        let stop = stop.clone();
                        connections.spawn(async move {
                            let _slot = slot;
                            serve_connection(socket, shared, over_limit, stop).await;
                        });
                    }
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(error) => {
                        eprintln!("zicht serve: accept failed: {error}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        shared.shutdown.begin();
        let _ = stop_sender.send(true);
        let grace = shared.config.shutdown_grace;
        let drained = tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            eprintln!("zicht serve: {} connection(s) still busy after {grace:?}; closing them", connections.len());
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
    }
}

async fn serve_connection(socket: TcpStream, shared: Arc<Shared>, over_limit: bool, mut stop: watch::Receiver<bool>) {
    let control = Arc::new(QueryControl::default());
    let handlers = ConnectionHandlers {
        startup: Arc::new(Startup::new(Arc::clone(&shared), over_limit, Arc::clone(&control))),
        query: Arc::new(QueryHandler::new(Arc::clone(&shared))),
        cancel: Arc::new(Cancel(Arc::clone(&shared))),
    };
    let process = process_socket(socket, shared.tls.clone(), handlers);
    tokio::pin!(process);
    tokio::select! {
        result = &mut process => {
            if let Err(error) = result {
                // A client that sends garbage or disconnects mid-message loses only its connection.
                if error.kind() != io::ErrorKind::UnexpectedEof {
                    eprintln!("zicht serve: connection closed: {error}");
                }
            }
        }
        _ = idle_after_shutdown(&mut stop, &control) => {}
    }
}

/// Completes once shutdown has begun and the connection has nothing running.
async fn idle_after_shutdown(stop: &mut watch::Receiver<bool>, control: &QueryControl) {
    if stop.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
    while control.is_busy() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct ConnectionHandlers {
    startup: Arc<Startup>,
    query: Arc<QueryHandler>,
    cancel: Arc<Cancel>,
}

impl PgWireServerHandlers for ConnectionHandlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        Arc::clone(&self.query)
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        Arc::clone(&self.query)
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

struct Cancel(Arc<Shared>);

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.0.cancels.cancel(request.pid, &request.secret_key);
    }
}

fn tls_acceptor(config: &TlsConfig) -> Result<TlsAcceptor, ServeError> {
    let read_error = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        ServeError::Tls(format!("cannot read the {what} {}: {e}", path.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.cert)
        .map_err(|e| read_error("certificate", &config.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_error("certificate", &config.cert, &e))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!("no certificate in {}", config.cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(|e| read_error("private key", &config.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    // PostgreSQL 17's direct TLS negotiation requires the ALPN protocol name.
    server.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}
