//! A quoted literal compared with a boolean is a boolean, as in PostgreSQL.
//!
//! PostgreSQL gives `'t'` the type *unknown* and resolves it from the other side of the
//! comparison: `indisprimary = 't'` compares two booleans. DataFusion types it as text and
//! refuses `Boolean = Utf8` while it plans; psqlODBC's `SQLPrimaryKeys` asks exactly that. This
//! expression planner, consulted as the SQL is planned, turns such a literal into the boolean
//! PostgreSQL reads from it (`t`, `true`, `yes`, `on`, `1`, their prefixes, any case) and leaves
//! anything else as it was, so text that is no boolean still fails.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, lit};
use datafusion::sql::sqlparser::ast::BinaryOperator;

#[derive(Debug, Default)]
pub(crate) struct BooleanLiterals;

impl ExprPlanner for BooleanLiterals {
    fn plan_binary_op(&self, mut expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        let comparison = matches!(
            expr.op,
            BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
        );
        if comparison {
            if is_boolean(&expr.left, schema)
                && let Some(value) = boolean_text(&expr.right)
            {
                expr.right = lit(value);
            } else if is_boolean(&expr.right, schema)
                && let Some(value) = boolean_text(&expr.left)
            {
                expr.left = lit(value);
            }
        }
        Ok(PlannerResult::Original(expr))
    }
}

fn is_boolean(expr: &Expr, schema: &DFSchema) -> bool {
    expr.get_type(schema).is_ok_and(|data_type| data_type == DataType::Boolean)
}

/// The boolean a text literal spells, as PostgreSQL's boolean input reads it.
fn boolean_text(expr: &Expr) -> Option<bool> {
    let Expr::Literal(
        ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)) | ScalarValue::LargeUtf8(Some(text)),
        _,
    ) = expr
    else {
        return None;
    };
    parse_boolean(text)
}

/// PostgreSQL's `boolin`: surrounding whitespace ignored, any case, a unique prefix of `true`,
/// `false`, `yes` or `no`, `on`, `off` (at least `of`), `1` or `0`.
fn parse_boolean(text: &str) -> Option<bool> {
    let word = text.trim().to_ascii_lowercase();
    let prefix_of = |full: &str| !word.is_empty() && full.starts_with(word.as_str());
    match word.as_str() {
        "1" | "on" => Some(true),
        "0" | "of" | "off" => Some(false),
        _ if prefix_of("true") || prefix_of("yes") => Some(true),
        _ if prefix_of("false") || prefix_of("no") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::execution::FunctionRegistry;
    use datafusion::prelude::SessionContext;

    use super::*;

    #[test]
    fn reads_booleans_as_postgresql_does() {
        for text in ["t", "TRUE", " tr ", "y", "Yes", "on", "1"] {
            assert_eq!(parse_boolean(text), Some(true), "{text}");
        }
        for text in ["f", "False", "n", "NO", "of", "off", "0"] {
            assert_eq!(parse_boolean(text), Some(false), "{text}");
        }
        for text in ["", "o", "maybe", "2", "truee", "yess"] {
            assert_eq!(parse_boolean(text), None, "{text}");
        }
    }

    #[tokio::test]
    async fn a_quoted_literal_compared_with_a_boolean_is_one() {
        let mut ctx = SessionContext::new();
        ctx.register_expr_planner(Arc::new(BooleanLiterals)).unwrap();
        let sql = "SELECT count(*) FROM (VALUES (true), (false), (true)) AS v(b) WHERE b = 't' AND 'no' <> b";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let count = batches[0].column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().unwrap();
        assert_eq!(count.value(0), 2);
        // Text that spells no boolean is still refused, and text compared with text stays text.
        assert!(ctx.sql("SELECT true = 'maybe'").await.is_err());
        let same = ctx.sql("SELECT 't' = 'true'").await.unwrap().collect().await.unwrap();
        let same = same[0].column(0).as_any().downcast_ref::<datafusion::arrow::array::BooleanArray>().unwrap();
        assert!(!same.value(0));
    }
}
