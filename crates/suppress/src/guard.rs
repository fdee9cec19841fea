//! The physical guard: the last physical optimizer rule, and a check the engine repeats before it
//! releases a result. It fails closed: a protected scan that reaches the output without passing a
//! protecting aggregate stops the query, whatever rewrote the plan on the way.

use std::any::Any;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;

use crate::aggregate::{CellCounters, ProtectAggregate, Question};
use crate::error::SuppressionError;
use crate::table::ProtectedScanExec;

#[derive(Debug, Default)]
pub struct ProtectionGuard;

impl PhysicalOptimizerRule for ProtectionGuard {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        verify_released(&plan)?;
        Ok(plan)
    }

    fn name(&self) -> &str {
        "zicht_protection_guard"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Fails unless every protected scan in `plan` lies below a protecting aggregate.
pub fn verify_released(plan: &Arc<dyn ExecutionPlan>) -> Result<(), SuppressionError> {
    match unprotected_scan(plan, false) {
        Some(table) => Err(SuppressionError::rejected(
            "guard",
            format!("rows of {table} would leave the engine without passing the suppression layer"),
        )),
        None => Ok(()),
    }
}

fn unprotected_scan(plan: &Arc<dyn ExecutionPlan>, protected_above: bool) -> Option<String> {
    if let Some(scan) = plan.downcast_ref::<ProtectedScanExec>()
        && !protected_above
    {
        return Some(scan.table().to_string());
    }
    let protected_here = protected_above || is_protecting_aggregate(plan.as_ref());
    plan.children().into_iter().find_map(|child| unprotected_scan(child, protected_here))
}

fn protecting_aggregates(plan: &dyn ExecutionPlan) -> Vec<&ProtectAggregate> {
    let Some(aggregate) = plan.downcast_ref::<AggregateExec>() else { return Vec::new() };
    aggregate
        .aggr_expr()
        .iter()
        .filter_map(|expr| {
            let inner: &dyn Any = expr.fun().inner().as_ref();
            inner.downcast_ref::<ProtectAggregate>()
        })
        .collect()
}

/// An aggregate whose every function is a protecting aggregate.
fn is_protecting_aggregate(plan: &dyn ExecutionPlan) -> bool {
    let Some(aggregate) = plan.downcast_ref::<AggregateExec>() else { return false };
    !aggregate.aggr_expr().is_empty() && protecting_aggregates(plan).len() == aggregate.aggr_expr().len()
}

/// Whether the plan reads any protected table.
pub fn reads_protected(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.downcast_ref::<ProtectedScanExec>().is_some() || plan.children().into_iter().any(reads_protected)
}

/// Cells released and suppressed by the protecting aggregates of an executed plan, for the audit
/// log. Partial and final stages share counters; only final evaluations count.
pub fn cell_counts(plan: &Arc<dyn ExecutionPlan>) -> (u64, u64) {
    let mut seen: Vec<*const CellCounters> = Vec::new();
    let mut totals = (0, 0);
    collect_counts(plan, &mut seen, &mut totals);
    totals
}

fn collect_counts(plan: &Arc<dyn ExecutionPlan>, seen: &mut Vec<*const CellCounters>, totals: &mut (u64, u64)) {
    for aggregate in protecting_aggregates(plan.as_ref()) {
        let counters = aggregate.counters();
        if !seen.contains(&Arc::as_ptr(counters)) {
            seen.push(Arc::as_ptr(counters));
            totals.0 += counters.released.load(std::sync::atomic::Ordering::Relaxed);
            totals.1 += counters.suppressed.load(std::sync::atomic::Ordering::Relaxed);
        }
    }
    for child in plan.children() {
        collect_counts(child, seen, totals);
    }
}

/// The questions an untrusted query asks of protected tables (one per protecting aggregation),
/// for the query budget; empty for trusted queries and queries of public data.
pub fn questions(plan: &Arc<dyn ExecutionPlan>) -> Vec<Question> {
    let mut found: Vec<Question> = Vec::new();
    let mut stack = vec![plan];
    while let Some(node) = stack.pop() {
        for aggregate in protecting_aggregates(node.as_ref()) {
            if let Some(question) = aggregate.question()
                && !found.contains(question)
            {
                found.push(question.clone());
            }
        }
        stack.extend(node.children());
    }
    found
}
