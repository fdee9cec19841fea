//! Which queries run on the cluster, and how their plans are prepared for it.
//!
//! Queries over protected data run on the workers; everything else (catalog queries, public
//! tables, what a client asks on connecting) runs in the coordinator, as without a cluster. A
//! query also stays in the coordinator when a worker could not rebuild its plan: a function a
//! worker does not have under the same name (a session's own, `zicht_safe` with its wrapped
//! expression), or a window function.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{AggregateUDF, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, ExecutionPlanProperties, ReplaceChildrenOptions,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::SessionContext;
use datafusion_distributed::DistributedExec;
use zicht_suppress::ProtectAggregate;

/// The functions every worker has, by name: DataFusion's, Zicht's, and those the suppression
/// layer puts into plans.
#[derive(Debug)]
pub(crate) struct WorkerFunctions {
    scalar: HashMap<String, Arc<ScalarUDF>>,
    aggregate: HashMap<String, Arc<AggregateUDF>>,
    window: HashMap<String, Arc<WindowUDF>>,
}

impl WorkerFunctions {
    pub(crate) fn new() -> WorkerFunctions {
        let ctx = SessionContext::new_with_state(SessionStateBuilder::new().with_default_features().build());
        zicht_udf::register(&ctx);
        crate::bounded_strings::register(&ctx);
        ctx.register_udf(zicht_suppress::released_function().as_ref().clone());
        ctx.register_udf(crate::subquery_value::subquery_value().as_ref().clone());
        let state = ctx.state();
        WorkerFunctions {
            scalar: state.scalar_functions().clone(),
            aggregate: state.aggregate_functions().clone(),
            window: state.window_functions().clone(),
        }
    }

    /// Adds the functions to a worker's state for one query.
    pub(crate) fn register(&self, state: &mut SessionState) -> Result<()> {
        use datafusion::execution::FunctionRegistry;
        for udf in self.scalar.values() {
            state.register_udf(Arc::clone(udf))?;
        }
        for udaf in self.aggregate.values() {
            state.register_udaf(Arc::clone(udaf))?;
        }
        for udwf in self.window.values() {
            state.register_udwf(Arc::clone(udwf))?;
        }
        Ok(())
    }

    /// Whether a worker rebuilds every function of `plan` as it is here.
    fn rebuild(&self, plan: &Arc<dyn ExecutionPlan>) -> bool {
        let mut rebuilds = true;
        let walked = plan.apply(|node| {
            rebuilds &= !node.name().contains("Window") && self.aggregates_rebuild(node.as_ref());
            node.apply_expressions(&mut |expr| {
                expr.apply(|e| {
                    if let Some(function) = e.downcast_ref::<ScalarFunctionExpr>() {
                        rebuilds &= self.scalar.get(function.name()).is_some_and(|udf| **udf == *function.fun());
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
            })?;
            Ok(if rebuilds { TreeNodeRecursion::Continue } else { TreeNodeRecursion::Stop })
        });
        walked.is_ok() && rebuilds
    }

    fn aggregates_rebuild(&self, node: &dyn ExecutionPlan) -> bool {
        let Some(aggregate) = node.downcast_ref::<AggregateExec>() else { return true };
        aggregate.aggr_expr().iter().all(|expr| {
            let inner: &dyn std::any::Any = expr.fun().inner().as_ref();
            inner.is::<ProtectAggregate>() || self.aggregate.get(expr.fun().name()).is_some_and(|f| **f == *expr.fun())
        })
    }
}

/// The coordinator's planner: the distributed planner, or this process's where the query stays.
#[derive(Debug)]
pub(crate) struct ClusterPlanner {
    /// datafusion-distributed's planner over a [`FragmentPlanner`].
    pub(crate) distributed: Arc<dyn QueryPlanner + Send + Sync>,
}

#[async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(
        &self,
        logical: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match self.distributed.create_physical_plan(logical, session).await {
            Err(error) if stays_here(&error) => {
                DefaultPhysicalPlanner::default().create_physical_plan(logical, session).await
            }
            Ok(plan) => one_output_partition(plan),
            Err(error) => Err(error),
        }
    }
}

/// A distributed plan streams its result from one partition: the coordinator's part of the plan
/// is merged into one below the [`DistributedExec`] (which runs only its first partition).
fn one_output_partition(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if !plan.is::<DistributedExec>() || plan.output_partitioning().partition_count() <= 1 {
        return Ok(plan);
    }
    let children = plan.children();
    let [top] = children.as_slice() else { return Ok(plan) };
    let merged: Arc<dyn ExecutionPlan> = Arc::new(CoalescePartitionsExec::new(Arc::clone(top)));
    let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    Arc::clone(&plan).replace_children(vec![merged], options)
}

/// Plans as without a cluster (the guard has checked the plan when this returns), then names the
/// protecting aggregations for the workers; refuses ([`StaysHere`]) a plan that should not go.
#[derive(Debug)]
pub(crate) struct FragmentPlanner {
    pub(crate) functions: Arc<WorkerFunctions>,
}

#[async_trait]
impl QueryPlanner for FragmentPlanner {
    async fn create_physical_plan(
        &self,
        logical: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = DefaultPhysicalPlanner::default().create_physical_plan(logical, session).await?;
        if !zicht_suppress::reads_protected(&plan) || !self.functions.rebuild(&plan) || !default_settings(session) {
            return Err(DataFusionError::External(Box::new(StaysHere)));
        }
        let named = zicht_suppress::name_for_workers(plan)?;
        // An aggregation whose blueprint cannot be written stays here with its query.
        if zicht_suppress::blueprints(&named).is_err() {
            return Err(DataFusionError::External(Box::new(StaysHere)));
        }
        Ok(named)
    }
}

/// Whether the session's settings that change answers are the defaults workers use: a worker
/// evaluates functions with its own settings (datafusion-distributed sends only extensions).
fn default_settings(session: &dyn Session) -> bool {
    session.config_options().execution.time_zone == ConfigOptions::default().execution.time_zone
}

/// The query runs in the coordinator.
#[derive(Debug)]
struct StaysHere;

impl std::fmt::Display for StaysHere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the query runs in the coordinator")
    }
}

impl std::error::Error for StaysHere {}

fn stays_here(error: &DataFusionError) -> bool {
    matches!(error.find_root(), DataFusionError::External(inner) if inner.is::<StaysHere>())
}
