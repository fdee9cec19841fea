//! Integer arithmetic on constants, checked before DataFusion folds it.
//!
//! DataFusion folds `9223372036854775807 + 1` while it plans, with wrapping arithmetic, and
//! answers -9223372036854775808. PostgreSQL answers SQLSTATE 22003 (numeric value out of range),
//! and so does Zicht: this analyzer rule computes every `+`, `-`, `*` and unary minus whose
//! operands are integer constants with checked arithmetic first, and refuses the statement when
//! one overflows.
//!
//! Only constants: whether an expression over rows overflows depends on the rows, and over
//! protected rows an error that depends on one row tells an analyst one bit about it, so those
//! expressions stay error-free (the suppression layer's `zicht_safe`).

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

/// Refuses a plan in which integer arithmetic on constants overflows.
#[derive(Debug, Default)]
pub(crate) struct CheckedConstants;

impl AnalyzerRule for CheckedConstants {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.apply_with_subqueries(|node| {
            node.apply_expressions(|expr| {
                integer_constant(expr)?;
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(plan)
    }

    fn name(&self) -> &str {
        "checked_constants"
    }
}

/// The value of `expr` when it is integer arithmetic on integer constants (an error when that
/// overflows); `None` for anything else, after checking the constants inside it.
fn integer_constant(expr: &Expr) -> Result<Option<ScalarValue>> {
    match expr {
        Expr::Literal(value, _) if value.data_type().is_integer() => Ok(Some(value.clone())),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (left, right) = (integer_constant(left)?, integer_constant(right)?);
            let (Some(left), Some(right)) = (left, right) else { return Ok(None) };
            match op {
                Operator::Plus => left.add_checked(&right).map(Some),
                Operator::Minus => left.sub_checked(&right).map(Some),
                Operator::Multiply => left.mul_checked(&right).map(Some),
                _ => Ok(None),
            }
        }
        Expr::Negative(inner) => match integer_constant(inner)? {
            Some(value) => ScalarValue::new_zero(&value.data_type())?.sub_checked(&value).map(Some),
            None => Ok(None),
        },
        other => {
            other.apply_children(|child| {
                integer_constant(child)?;
                Ok(TreeNodeRecursion::Continue)
            })?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::prelude::SessionContext;

    use super::*;

    async fn plan(sql: &str) -> Result<LogicalPlan> {
        let ctx = SessionContext::new();
        ctx.add_analyzer_rule(Arc::new(CheckedConstants));
        ctx.sql(sql).await?.into_optimized_plan()
    }

    #[tokio::test]
    async fn overflowing_constant_arithmetic_is_refused() {
        for sql in [
            "SELECT 9223372036854775807 + 1",
            "SELECT (-9223372036854775807 - 1) - 1",
            "SELECT 9223372036854775807 * 2",
            "SELECT (-9223372036854775807 - 1) * -1",
            "SELECT 1 FROM (VALUES (1)) t(x) WHERE x > 4611686018427387904 * 2",
            "SELECT (SELECT 9223372036854775807 + 1)",
        ] {
            let error = plan(sql).await.unwrap_err();
            let overflow = matches!(
                error.find_root(),
                datafusion::error::DataFusionError::ArrowError(e, _)
                    if matches!(e.as_ref(), datafusion::arrow::error::ArrowError::ArithmeticOverflow(_))
            );
            assert!(overflow, "{sql}: {error}");
        }
    }

    #[tokio::test]
    async fn arithmetic_in_range_or_over_rows_is_left_alone() {
        for sql in [
            "SELECT 9223372036854775806 + 1, -9223372036854775807 - 1, 3037000499 * 3037000499",
            "SELECT x + 9223372036854775807 FROM (VALUES (1)) t(x)",
            "SELECT 1e308 * 10, NULL + 1, 7 / 0.5",
        ] {
            plan(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}
