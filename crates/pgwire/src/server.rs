//! Accepting connections, the connection limit, TLS, cancel requests and graceful shutdown
//! (after mini-redis: a shutdown signal ends the serving loop, idle connections close, running
//! queries get a grace period, then whatever is left is told and closed; see [`Server::run`]).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pgwire::api::RandomPidSecretKeyGenerator;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use zicht_engine::Engine;

use crate::config::{ServerConfig, TlsConfig};
use crate::connection::{CancelRegistry, QueryControl, ShutdownFlag};
use crate::conversation::{Stage, converse};
use crate::handler::QueryHandler;
use crate::startup::Startup;

/// What every connection shares.
pub struct Shared {
    pub engine: Engine,
    pub config: ServerConfig,
    pub cancels: Arc<CancelRegistry>,
    pub shutdown: ShutdownFlag,
    pub pid_keys: RandomPidSecretKeyGenerator,
    pub(crate) tls: Option<TlsAcceptor>,
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

    /// Serves until `shutdown` completes, then shuts down gracefully: idle connections get 57P01
    /// at once, running statements get `shutdown_grace` to finish (then 57P01), and clients that
    /// connect meanwhile get 57P03.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server { shared, listener } = self;
        let slots = Arc::new(Semaphore::new(shared.config.max_connections));
        let (stage_sender, stage) = watch::channel(Stage::Serving);
        let mut connections = JoinSet::new();
        let accept = |socket: TcpStream, connections: &mut JoinSet<()>| {
            let slot = Arc::clone(&slots).try_acquire_owned().ok();
            let over_limit = slot.is_none();
            let shared = Arc::clone(&shared);
            let stage = stage.clone();
            connections.spawn(async move {
                let _slot = slot;
                serve_connection(socket, shared, over_limit, stage).await;
            });
        };
        accept_until(&listener, &mut connections, &accept, shutdown, false).await;
        shared.shutdown.begin();
        let _ = stage_sender.send(Stage::Stopping);
        let grace = tokio::time::sleep(shared.config.shutdown_grace);
        if accept_until(&listener, &mut connections, &accept, grace, true).await == Ended::Drained {
            return;
        }
        drop(listener);
        eprintln!(
            "zicht serve: {} connection(s) still busy after {:?}; closing them",
            connections.len(),
            shared.config.shutdown_grace
        );
        let _ = stage_sender.send(Stage::GraceOver);
        // Each connection sends its 57P01 and closes; one that cannot (a peer that does not
        // read) is aborted.
        let closing = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(2), closing).await.is_err() {
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
    }
}

#[derive(PartialEq, Eq)]
enum Ended {
    Until,
    /// The last connection ended (only when asked to stop then).
    Drained,
}

/// Accepts connections (each handed to `accept`) and reaps those that end, until `until`
/// completes, or, with `stop_when_drained`, until no connection is left.
async fn accept_until(
    listener: &TcpListener,
    connections: &mut JoinSet<()>,
    accept: &impl Fn(TcpStream, &mut JoinSet<()>),
    until: impl Future<Output = ()>,
    stop_when_drained: bool,
) -> Ended {
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return Ended::Until,
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => accept(socket, connections),
                Err(error) => accept_failed(error).await,
            },
            joined = connections.join_next(), if stop_when_drained || !connections.is_empty() => {
                if joined.is_none() {
                    return Ended::Drained;
                }
            }
        }
    }
}

/// Out of file descriptors and the like: back off instead of spinning.
async fn accept_failed(error: io::Error) {
    eprintln!("zicht serve: accept failed: {error}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn serve_connection(socket: TcpStream, shared: Arc<Shared>, over_limit: bool, stage: watch::Receiver<Stage>) {
    let control = Arc::new(QueryControl::default());
    let handlers = ConnectionHandlers {
        startup: Arc::new(Startup::new(Arc::clone(&shared), over_limit, Arc::clone(&control))),
        query: Arc::new(QueryHandler::new(Arc::clone(&shared))),
        cancel: Arc::new(Cancel(Arc::clone(&shared))),
    };
    converse(socket, shared, handlers, stage).await;
}

pub(crate) struct ConnectionHandlers {
    pub startup: Arc<Startup>,
    pub query: Arc<QueryHandler>,
    pub cancel: Arc<Cancel>,
}

pub(crate) struct Cancel(Arc<Shared>);

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
