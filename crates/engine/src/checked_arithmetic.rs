//! Integer arithmetic over rows of public tables, checked as PostgreSQL checks it.
//!
//! DataFusion adds, subtracts and multiplies integers with wrapping arithmetic: `SELECT inwoners *
//! 9223372036854775807 FROM regio.gemeente` answers negative numbers where PostgreSQL fails with
//! SQLSTATE 22003 (numeric value out of range). This physical optimizer rule turns on DataFusion's
//! own overflow check (`BinaryExpr::with_fail_on_overflow`) in the projections and filters of a
//! plan, but only of a plan that reads no protected table: over protected rows an error that
//! depends on one row would tell an analyst one bit about it, so there arithmetic stays
//! error-free (see also [`crate::checked_constants`], which checks constants in every plan).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// Checks integer `+`, `-` and `*` for overflow in plans that read no protected table.
#[derive(Debug, Default)]
pub(crate) struct CheckedArithmetic;

impl PhysicalOptimizerRule for CheckedArithmetic {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        if zicht_suppress::reads_protected(&plan) {
            return Ok(plan);
        }
        plan.transform_up(checked_node).map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "zicht_checked_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn checked_node(node: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
        let schema = projection.input().schema();
        let mut changed = false;
        let mut exprs = Vec::with_capacity(projection.expr().len());
        for item in projection.expr() {
            let checked = checked_expr(Arc::clone(&item.expr), &schema)?;
            changed |= checked.transformed;
            exprs.push(ProjectionExpr { expr: checked.data, alias: item.alias.clone() });
        }
        if changed {
            let input = Arc::clone(projection.input());
            return Ok(Transformed::yes(Arc::new(ProjectionExec::try_new(exprs, input)?)));
        }
    } else if let Some(filter) = node.downcast_ref::<FilterExec>() {
        let checked = checked_expr(Arc::clone(filter.predicate()), &filter.input().schema())?;
        if checked.transformed {
            let rebuilt = FilterExecBuilder::from(filter).with_predicate(checked.data).build()?;
            return Ok(Transformed::yes(Arc::new(rebuilt)));
        }
    }
    Ok(Transformed::no(node))
}

/// `expr` with every integer `+`, `-` and `*` checked for overflow.
fn checked_expr(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    expr.transform_up(|expr| {
        let Some(binary) = expr.downcast_ref::<BinaryExpr>() else { return Ok(Transformed::no(expr)) };
        let arithmetic = matches!(binary.op(), Operator::Plus | Operator::Minus | Operator::Multiply);
        if !arithmetic || !binary.left().data_type(schema)?.is_integer() {
            return Ok(Transformed::no(expr));
        }
        let checked = BinaryExpr::new(Arc::clone(binary.left()), *binary.op(), Arc::clone(binary.right()))
            .with_fail_on_overflow(true);
        Ok(Transformed::yes(Arc::new(checked) as Arc<dyn PhysicalExpr>))
    })
}

#[cfg(test)]
mod tests {
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn answer(sql: &str) -> Result<()> {
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(CheckedArithmetic))
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.sql("CREATE VIEW t(x) AS VALUES (CAST(4611686018427387904 AS BIGINT)), (CAST(1 AS BIGINT))").await?;
        ctx.sql(sql).await?.collect().await.map(|_| ())
    }

    #[tokio::test]
    async fn integer_overflow_over_rows_is_an_error() {
        for sql in ["SELECT x * 2 FROM t", "SELECT x + x FROM t", "SELECT 1 FROM t WHERE -x - x - x < 0"] {
            let error = answer(sql).await.unwrap_err();
            assert!(error.to_string().to_lowercase().contains("overflow"), "{sql}: {error}");
        }
    }

    #[tokio::test]
    async fn arithmetic_in_range_and_floats_answer() {
        for sql in ["SELECT x + 1, x * 1, x - 1 FROM t", "SELECT CAST(x AS DOUBLE) * 1e300 FROM t"] {
            answer(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}
