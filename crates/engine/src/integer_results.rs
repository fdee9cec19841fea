//! Whole-number results typed as PostgreSQL types them: `SELECT 1` is an int4, not an int8.
//!
//! PostgreSQL types an integer literal that fits 32 bits as `integer` (int4), and `+ - * / %` of
//! two int4 values as int4. DataFusion types every integer literal as Int64, so `SELECT 1` and
//! `$1::int + 1` arrive as int8, and clients that map int8 to something else than a number read
//! them wrongly: node-postgres gives JavaScript the string `"1"` (an int8 may not fit a double).
//! This rewrite, applied to every planned statement, casts such an output column of the
//! statement's final projection to Int32. The value is computed as before (in 64 bits) and then
//! cast, so a result that does not fit fails as PostgreSQL's does (22003), and no value changes.
//!
//! Only the output is retyped: conditions and aggregates (and so the suppression layer's cell
//! keys) see the same expressions as before. Columns take part only in statements that read no
//! protected table and no saved query: over protected rows a cast that fails for one row's value
//! would tell an analyst one bit about that row, so there only literals and parameters, whose
//! values no row decides, are retyped.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, Projection, cast};
use zicht_suppress::CatalogTable;

/// `plan` with the whole-number columns of its final projection typed as PostgreSQL types them.
pub(crate) fn postgres_integer_results(plan: LogicalPlan) -> Result<LogicalPlan> {
    let columns_allowed = reads_only_public_tables(&plan)?;
    retype(plan, columns_allowed)
}

/// The final projection is the plan's root, or under the sorts and limits of its ORDER BY and
/// LIMIT (which refer to its columns by name, and the names stay).
fn retype(plan: LogicalPlan, columns_allowed: bool) -> Result<LogicalPlan> {
    match plan {
        LogicalPlan::Projection(projection) => retype_projection(projection, columns_allowed),
        LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => {
            let inputs: Vec<LogicalPlan> = plan.inputs().into_iter().cloned().collect();
            let retyped = inputs.into_iter().map(|input| retype(input, columns_allowed)).collect::<Result<Vec<_>>>()?;
            plan.with_new_exprs(plan.expressions(), retyped)
        }
        other => Ok(other),
    }
}

fn retype_projection(projection: Projection, columns_allowed: bool) -> Result<LogicalPlan> {
    let schema = projection.input.schema();
    let mut changed = false;
    let mut exprs = Vec::with_capacity(projection.expr.len());
    for expr in &projection.expr {
        let retyped = retype_expr(expr, schema, columns_allowed)?;
        changed |= retyped.is_some();
        exprs.push(retyped.unwrap_or_else(|| expr.clone()));
    }
    if !changed {
        return Ok(LogicalPlan::Projection(projection));
    }
    Ok(LogicalPlan::Projection(Projection::try_new(exprs, projection.input)?))
}

/// The expression cast to Int32 under its own name, if PostgreSQL would type it int4 and
/// DataFusion types it Int64. One whose type cannot be told yet (an untyped parameter) stays.
fn retype_expr(expr: &Expr, schema: &DFSchema, columns_allowed: bool) -> Result<Option<Expr>> {
    let (inner, alias) = match expr {
        Expr::Alias(Alias { expr, relation, name, metadata }) => (expr.as_ref(), Some((relation, name, metadata))),
        other => (other, None),
    };
    if inner.get_type(schema).ok() != Some(DataType::Int64) || !is_int4(inner, schema, columns_allowed) {
        return Ok(None);
    }
    let cast = cast(inner.clone(), DataType::Int32);
    Ok(Some(match alias {
        Some((relation, name, metadata)) => Expr::Alias(Alias {
            expr: Box::new(cast),
            relation: relation.clone(),
            name: name.clone(),
            metadata: metadata.clone(),
        }),
        None => cast.alias(expr.schema_name().to_string()),
    }))
}

/// Whether PostgreSQL types `expr` int4 (or smaller): an integer literal that fits 32 bits, a
/// value of a 32-bit (or smaller) integer type, and `+ - * / %` and negation of those.
fn is_int4(expr: &Expr, schema: &DFSchema, columns_allowed: bool) -> bool {
    match expr {
        Expr::Literal(value, _) => fits_int4(value),
        Expr::Negative(inner) => is_int4(inner, schema, columns_allowed),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo)
                && is_int4(left, schema, columns_allowed)
                && is_int4(right, schema, columns_allowed)
        }
        other => {
            let small = other
                .get_type(schema)
                .is_ok_and(|data_type| matches!(data_type, DataType::Int32 | DataType::Int16 | DataType::Int8));
            small && (columns_allowed || !reads_columns(other))
        }
    }
}

fn fits_int4(value: &ScalarValue) -> bool {
    match value {
        ScalarValue::Int64(Some(v)) => i32::try_from(*v).is_ok(),
        ScalarValue::Int32(Some(_)) | ScalarValue::Int16(Some(_)) | ScalarValue::Int8(Some(_)) => true,
        _ => false,
    }
}

fn reads_columns(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::Column(_) | Expr::OuterReferenceColumn(..) | Expr::ScalarSubquery(_))))
        .unwrap_or(true)
}

/// Whether every table the plan reads, in subqueries too, is an unprotected catalog table or one
/// of the system catalogs. A saved query (a view over protected tables) or a protected table
/// makes it false; so does a table this cannot tell (fails closed).
fn reads_only_public_tables(plan: &LogicalPlan) -> Result<bool> {
    let mut public = true;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let system = matches!(scan.table_name.schema(), Some("pg_catalog" | "information_schema"));
            let unprotected =
                source_as_provider(&scan.source).ok().is_some_and(|provider| is_unprotected_catalog_table(&provider));
            if !system && !unprotected {
                public = false;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(public)
}

fn is_unprotected_catalog_table(provider: &Arc<dyn datafusion::catalog::TableProvider>) -> bool {
    CatalogTable::of(provider).is_some_and(|table| !table.definition().is_protected())
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn output_types(sql: &str) -> Vec<DataType> {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (i INT, b BIGINT) AS VALUES (1, 2)").await.unwrap();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        // t is no catalog table: columns do not take part (as over protected tables).
        let plan = postgres_integer_results(plan).unwrap();
        plan.schema().fields().iter().map(|field| field.data_type().clone()).collect()
    }

    #[tokio::test]
    async fn literals_that_fit_32_bits_are_int4() {
        use DataType::*;
        assert_eq!(
            output_types("SELECT 1, -5 AS n, 2147483648, 1 + 2 * 3, 1.5, 7 / 2").await,
            [Int32, Int32, Int64, Int32, Float64, Int32]
        );
        assert_eq!(output_types("SELECT CAST($1 AS INT) + 1, $2 + 1").await, [Int32, Int64]);
    }

    #[tokio::test]
    async fn columns_of_tables_that_are_not_public_keep_their_type() {
        use DataType::*;
        assert_eq!(
            output_types("SELECT i + 1, b + 1, 1 AS one FROM t ORDER BY one LIMIT 1").await,
            [Int64, Int64, Int32]
        );
    }

    #[tokio::test]
    async fn a_value_that_does_not_fit_fails() {
        let ctx = SessionContext::new();
        let plan = ctx.state().create_logical_plan("SELECT 2147483647 + 1").await.unwrap();
        let plan = postgres_integer_results(plan).unwrap();
        let result = ctx.execute_logical_plan(plan).await.unwrap().collect().await;
        assert!(result.is_err(), "{result:?}");
    }
}
