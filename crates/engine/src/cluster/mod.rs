//! Scale-out: an engine as the coordinator of a cluster of workers, on datafusion-distributed.
//!
//! The engine that plans a query stays its coordinator: the suppression layer's analyzer rule,
//! the physical guard, the query budget and the audit log run there, as without a cluster. Only
//! the plan fragments of queries over protected data go to workers ([`planner`]); each worker
//! rebuilds them with Zicht's functions, its plan node ([`codec`]) and the query's protecting
//! aggregations, keyed with its own secret ([`fragments`]). Every request between the processes
//! carries the cluster token ([`token`]). docs/cluster.md says how to run and secure a cluster.

mod codec;
mod fragments;
mod planner;
mod token;
mod worker;

use std::sync::Arc;

use datafusion::common::tree_node::TreeNode;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::{DistributedExt, NetworkBoundaryExt, SessionStateBuilderExt, WorkerResolver};
use url::Url;
use zicht_suppress::SuppressionError;

pub(crate) use fragments::{is_distributed, task_context};
pub use worker::{WorkerOptions, serve_worker};

use codec::ZichtCodec;
use fragments::ZichtFragments;
use planner::{ClusterPlanner, FragmentPlanner, WorkerFunctions};
use token::TokenChannels;

/// The workers of a coordinator.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Each worker's address, `http://host:port`.
    pub workers: Vec<Url>,
    /// The secret every process of the cluster shares to accept requests from the others.
    pub token: String,
    /// Parquet bytes one task of a stage scans: a table smaller than this is read by one worker,
    /// a larger one by several. datafusion-distributed's default (16 MiB) when unset.
    pub bytes_per_task: Option<usize>,
}

impl ClusterOptions {
    /// Workers from `host:port` or `http://host:port` addresses.
    pub fn new(workers: &[String], token: impl Into<String>) -> std::result::Result<ClusterOptions, String> {
        let workers = workers
            .iter()
            .map(|address| {
                let url = if address.contains("://") { address.clone() } else { format!("http://{address}") };
                Url::parse(&url).map_err(|e| format!("worker address {address}: {e}"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if workers.is_empty() {
            return Err("a cluster needs at least one worker".into());
        }
        let token = token.into();
        check_token(&token)?;
        Ok(ClusterOptions { workers, token, bytes_per_task: None })
    }

    /// See [`ClusterOptions::bytes_per_task`].
    pub fn with_bytes_per_task(mut self, bytes: usize) -> ClusterOptions {
        self.bytes_per_task = Some(bytes.max(1));
        self
    }
}

/// A token guessable in less than 16 characters would not keep strangers out.
pub(crate) fn check_token(token: &str) -> std::result::Result<(), String> {
    match token.len() >= 16 && token.bytes().all(|b| b.is_ascii_graphic()) {
        true => Ok(()),
        false => Err("the cluster token must be at least 16 printable characters, without spaces".into()),
    }
}

#[derive(Debug)]
struct Workers(Vec<Url>);

impl WorkerResolver for Workers {
    fn get_urls(&self) -> Result<Vec<Url>> {
        Ok(self.0.clone())
    }
}

/// `base` as the state of a coordinator of `cluster`.
pub(crate) fn coordinate(base: SessionState, cluster: &ClusterOptions) -> Result<SessionState> {
    let fragments = FragmentPlanner { functions: Arc::new(WorkerFunctions::new()) };
    let mut builder = SessionStateBuilder::new_from_existing(base)
        .with_query_planner(Arc::new(fragments))
        .with_distributed_planner()
        .with_distributed_worker_resolver(Workers(cluster.workers.clone()))
        .with_distributed_channel_resolver(TokenChannels::new(&cluster.token)?)
        .with_distributed_user_codec(ZichtCodec)
        .with_distributed_option_extension(ZichtFragments::default())
        // Partial protecting aggregations below a shuffle would ship every unit's tally twice.
        .with_distributed_partial_reduce(false)?
        // datafusion-distributed 4.0 loses rows when it broadcasts a build side that a stage of
        // several tasks produces (a joined protected aggregation, say); joins of partitioned
        // inputs shuffle both sides instead, which the cluster splits correctly.
        .with_distributed_broadcast_joins(false)?;
    if let Some(config) = builder.config().as_mut() {
        let optimizer = &mut config.options_mut().optimizer;
        optimizer.hash_join_single_partition_threshold = 0;
        optimizer.hash_join_single_partition_threshold_rows = 0;
    }
    if let Some(bytes) = cluster.bytes_per_task {
        builder = builder.with_distributed_file_scan_config_bytes_per_partition(bytes)?;
    }
    let distributed = builder
        .query_planner()
        .take()
        .ok_or_else(|| DataFusionError::Internal("the distributed planner is missing".into()))?;
    Ok(builder.with_query_planner(Arc::new(ClusterPlanner { distributed })).build())
}

/// The error a client gets when a worker failed, by what the failure says; None for any other
/// error. Only fixed texts are returned: a worker's own message could echo a protected value.
pub(crate) fn failure(error: &DataFusionError) -> Option<crate::EngineError> {
    let text = error.to_string();
    let message = if text.contains("secret key differs from the coordinator's") {
        "a worker of the cluster has another secret key than the coordinator; the query was stopped"
    } else if text.contains("this worker serves only its cluster's") {
        "a worker of the cluster refused the coordinator's cluster token; the query was stopped"
    } else if ["Distributed DataFusion worker", "transport error", "tcp connect error", "currently unavailable"]
        .iter()
        .any(|sign| text.contains(sign))
    {
        "a worker of the cluster could not be reached or stopped during the query; the query was stopped"
    } else {
        return None;
    };
    Some(crate::EngineError::Cluster(message.to_string()))
}

/// Whether part of `plan` runs on workers and reads a protected table there.
pub fn reads_protected_on_workers(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.exists(|node| {
        Ok(node.is_network_boundary() && node.children().iter().any(|stage| zicht_suppress::reads_protected(stage)))
    })
    .unwrap_or(false)
}

/// Fails unless the guard could see every stage of `plan`: a stage that is already encoded for a
/// worker hides its plan, and with it any protected scan in it.
pub(crate) fn verify_stages_visible(plan: &Arc<dyn ExecutionPlan>) -> std::result::Result<(), SuppressionError> {
    let hidden = plan.exists(|node| Ok(node.is_network_boundary() && node.children().is_empty())).unwrap_or(true);
    if hidden {
        return Err(SuppressionError::rejected("guard", "a stage of the distributed plan cannot be checked"));
    }
    Ok(())
}
