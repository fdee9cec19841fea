//! Protecting aggregations in one stage.
//!
//! DataFusion aggregates in two stages: a partial aggregation per input partition, whose states
//! are shipped (repartitioned by group) to a final aggregation that merges them. For ordinary
//! aggregates a state is a number; for a protecting aggregation it holds a tally of every unit of
//! the cell, so the two-stage plan builds every tally twice and copies it in between. This rule
//! repartitions the rows instead and aggregates each group once: `AggregateExec(SinglePartitioned)`
//! over a hash repartitioning on the group keys.
//!
//! An aggregation without groups (a national total) keeps both stages: in one stage all of its
//! rows would pass one core, while its partial states are merged by appending the other
//! partition's unit tallies and folding them once, in linear time ([`crate::tallies`]).

use std::any::Any;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

use crate::aggregate::ProtectAggregate;

#[derive(Debug, Default)]
pub struct SingleStage;

impl PhysicalOptimizerRule for SingleStage {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let partitions = config.execution.target_partitions.max(1);
        plan.transform_up(|node| match single_stage(&node, partitions)? {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(node)),
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "zicht_single_stage"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The one-stage form of a final protecting aggregation over its partial one, if `node` is one.
fn single_stage(node: &Arc<dyn ExecutionPlan>, partitions: usize) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(last) = node.downcast_ref::<AggregateExec>() else { return Ok(None) };
    if !matches!(last.mode(), AggregateMode::Final | AggregateMode::FinalPartitioned) || !protecting(last) {
        return Ok(None);
    }
    let Some(first) = partial_below(last.input()) else { return Ok(None) };
    if first.group_expr().expr().is_empty() {
        return Ok(None);
    }
    let rows = Arc::clone(first.input());
    let hash = Partitioning::Hash(first.group_expr().input_exprs(), partitions);
    let input: Arc<dyn ExecutionPlan> = Arc::new(RepartitionExec::try_new(rows, hash)?);
    let schema = input.schema();
    let single = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        first.group_expr().clone(),
        first.aggr_expr().to_vec(),
        first.filter_expr().to_vec(),
        input,
        schema,
    )?;
    // Only where the plan above sees exactly what it saw before.
    if single.schema().fields() != last.schema().fields() {
        return Ok(None);
    }
    Ok(Some(Arc::new(single)))
}

/// The partial protecting aggregation under a final one, through repartitioning and coalescing.
fn partial_below(plan: &Arc<dyn ExecutionPlan>) -> Option<&AggregateExec> {
    if let Some(aggregate) = plan.downcast_ref::<AggregateExec>() {
        return (matches!(aggregate.mode(), AggregateMode::Partial) && protecting(aggregate)).then_some(aggregate);
    }
    let passes = plan.downcast_ref::<RepartitionExec>().is_some()
        || plan.downcast_ref::<CoalescePartitionsExec>().is_some()
        || plan.name() == "CoalesceBatchesExec";
    match plan.children().as_slice() {
        [child] if passes => partial_below(child),
        _ => None,
    }
}

fn protecting(aggregate: &AggregateExec) -> bool {
    !aggregate.aggr_expr().is_empty()
        && aggregate.aggr_expr().iter().all(|expr| {
            let inner: &dyn Any = expr.fun().inner().as_ref();
            inner.downcast_ref::<ProtectAggregate>().is_some()
        })
}
