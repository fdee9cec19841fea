//! The protecting aggregations of a query, sent with its plan fragments to the workers.
//!
//! A fragment names each protecting aggregation (`zicht_protect_0`, ...; see
//! [`zicht_suppress::name_for_workers`]) and the worker looks it up by that name. The coordinator
//! puts the query's [`Blueprint`]s into a configuration extension of the query's task context,
//! which datafusion-distributed sends as request metadata with every fragment; the worker builds
//! each aggregation from its blueprint with its own secret and registers it for that query only.

use std::sync::Arc;

use datafusion::common::extensions_options;
use datafusion::common::tree_node::TreeNode;
use datafusion::config::ConfigExtension;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{FunctionRegistry, SessionState, TaskContext};
use datafusion::logical_expr::AggregateUDF;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::DistributedExec;
use zicht_suppress::{Blueprint, CellKeyer};

extensions_options! {
    /// What a worker needs besides the plan fragment.
    pub struct ZichtFragments {
        /// The query's blueprints, as hexadecimal JSON (request metadata must be plain ASCII).
        pub aggregations: String, default = String::new()
    }
}

impl ConfigExtension for ZichtFragments {
    const PREFIX: &'static str = "zicht";
}

/// Whether `plan` runs on workers.
pub(crate) fn is_distributed(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.exists(|node| Ok(node.is::<DistributedExec>())).unwrap_or(true)
}

/// The task context that runs `plan`: the session's, with the blueprints of the plan's protecting
/// aggregations when it runs on workers.
pub(crate) fn task_context(state: &SessionState, plan: &Arc<dyn ExecutionPlan>) -> Result<Arc<TaskContext>> {
    let task = state.task_ctx();
    if !is_distributed(plan) {
        return Ok(task);
    }
    let blueprints = zicht_suppress::blueprints(plan).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let json = serde_json::to_string(&blueprints).map_err(|e| DataFusionError::Internal(e.to_string()))?;
    let mut config = state.config().clone();
    let Some(fragments) = config.options_mut().extensions.get_mut::<ZichtFragments>() else {
        return Err(DataFusionError::Internal("a cluster session without its fragments extension".into()));
    };
    fragments.aggregations = to_hex(json.as_bytes());
    Ok(Arc::new(TaskContext::new(
        task.task_id(),
        state.session_id().to_string(),
        config,
        state.scalar_functions().clone(),
        state.higher_order_functions().clone(),
        state.aggregate_functions().clone(),
        state.window_functions().clone(),
        Arc::clone(state.runtime_env()),
    )))
}

/// On a worker: the query's protecting aggregations, keyed with the worker's secret, registered in
/// the state that decodes its fragment. A blueprint built with another secret is refused
/// ([`Blueprint::build`]), and with it the fragment.
pub(crate) fn register_aggregations(state: &mut SessionState, keyer: &CellKeyer) -> Result<()> {
    let Some(fragments) = state.config().options().extensions.get::<ZichtFragments>() else { return Ok(()) };
    if fragments.aggregations.is_empty() {
        return Ok(());
    }
    let json = from_hex(&fragments.aggregations)
        .ok_or_else(|| DataFusionError::Plan("the query's protecting aggregations arrived damaged".into()))?;
    let blueprints: Vec<Blueprint> = serde_json::from_slice(&json)
        .map_err(|e| DataFusionError::Plan(format!("the query's protecting aggregations arrived damaged: {e}")))?;
    for blueprint in blueprints {
        let aggregate = blueprint.build(keyer).map_err(|e| DataFusionError::External(Box::new(e)))?;
        state.register_udaf(Arc::new(AggregateUDF::new_from_impl(aggregate)))?;
    }
    Ok(())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_reads_back_and_refuses_damage() {
        let bytes = b"{\"name\":\"zicht_protect_0\"}\xff\x00";
        assert_eq!(from_hex(&to_hex(bytes)).unwrap(), bytes);
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
        assert!(from_hex("é1").is_none());
    }
}
