//! A worker: runs the plan fragments its cluster's coordinator sends, and serves their shuffles
//! to the other workers.

use std::future::Future;
use std::sync::Arc;

use datafusion::error::Result as DfResult;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion_distributed::{DistributedExt, Worker, WorkerQueryContext};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use zicht_suppress::CellKeyer;

use super::codec::ZichtCodec;
use super::fragments::{ZichtFragments, register_aggregations};
use super::planner::WorkerFunctions;
use super::token::{TokenChannels, TokenCheck};
use crate::error::{EngineError, Result};

/// The most request metadata a worker accepts.
const MAX_METADATA_BYTES: u32 = 4 << 20;

/// How a worker is started.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The secret of the cell-key perturbation: the coordinator's. A worker with another secret
    /// refuses every protected fragment.
    pub secret_key: String,
    /// The cluster token ([`super::ClusterOptions::token`]).
    pub token: String,
    /// Upper bound of memory for the fragments this worker runs; half the machine's when unset.
    pub memory_limit: Option<usize>,
}

/// Serves fragments on `listener` until `shutdown` completes.
pub async fn serve_worker(
    options: WorkerOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    super::check_token(&options.token).map_err(EngineError::Cluster)?;
    let limit = options.memory_limit.unwrap_or_else(crate::default_memory_limit);
    let runtime =
        RuntimeEnvBuilder::new().with_memory_limit(limit, 1.0).build_arc().map_err(EngineError::from_planning)?;
    let sessions = Arc::new(WorkerSessions {
        functions: WorkerFunctions::new(),
        keyer: CellKeyer::new(options.secret_key.as_bytes()),
        channels: TokenChannels::new(&options.token).map_err(EngineError::from_planning)?,
    });
    let worker = Worker::from_session_builder(move |ctx: WorkerQueryContext| {
        let sessions = Arc::clone(&sessions);
        async move { sessions.build(ctx) }
    })
    .with_runtime_env(runtime);
    tonic::transport::Server::builder()
        // The query's blueprints arrive as request metadata, beyond HTTP/2's usual 16 KiB for
        // a query with many measures.
        .http2_max_header_list_size(Some(MAX_METADATA_BYTES))
        .layer(tonic::service::InterceptorLayer::new(TokenCheck::new(&options.token)))
        .add_service(worker.into_worker_server())
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
        .map_err(|e| EngineError::Cluster(format!("the worker stopped: {e}")))
}

/// What every query's state on a worker is built from.
struct WorkerSessions {
    functions: WorkerFunctions,
    keyer: CellKeyer,
    channels: TokenChannels,
}

impl WorkerSessions {
    fn build(&self, ctx: WorkerQueryContext) -> DfResult<SessionState> {
        let mut state = ctx
            .builder
            .with_distributed_user_codec(ZichtCodec)
            .with_distributed_channel_resolver(self.channels.clone())
            .with_distributed_option_extension_from_headers::<ZichtFragments>(&ctx.headers)?
            .build();
        self.functions.register(&mut state)?;
        register_aggregations(&mut state, &self.keyer)?;
        Ok(state)
    }
}
