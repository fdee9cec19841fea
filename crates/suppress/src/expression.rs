//! Expressions on protected rows at the trusted level: what may appear, and how each is made
//! unable to fail on one row.
//!
//! A trusted analyst may compute freely below an aggregate, with three limits: identifying columns
//! (unit ids, row ids) are never values; only functions on the safe list run; and nothing may
//! raise an error chosen by one row. Divisions divide by `NULLIF(divisor, 0)` and casts become
//! `TRY_CAST`; whatever is still not error-free by construction is wrapped in
//! [`crate::safe_expr`], which turns a failing row into NULL.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{InList, Like, TryCast};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator, lit};

use crate::error::reject;
use crate::lineage::{Origin, origin_of};
use crate::safe_expr;

/// Scalar functions that may run on protected values: deterministic, without side effects. Any
/// of them may fail on some value; [`make_safe`] makes such a failure a NULL of that row.
const FREE_FUNCTIONS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "round",
    "trunc",
    "signum",
    "sqrt",
    "cbrt",
    "ln",
    "log",
    "log10",
    "log2",
    "exp",
    "power",
    "pow",
    "greatest",
    "least",
    "coalesce",
    "nullif",
    "nvl",
    "ifnull",
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "btrim",
    "trim",
    "ltrim",
    "rtrim",
    "concat",
    "concat_ws",
    "substr",
    "substring",
    "left",
    "right",
    "replace",
    "isnan",
    "iszero",
    "starts_with",
    "ends_with",
    "strpos",
    "regexp_like",
    "regexp_match",
    "regexp_replace",
    "date_part",
    "datepart",
    "date_trunc",
    "datetrunc",
    safe_expr::NAME,
];

/// Checks an expression evaluated on protected rows: no identifying columns, no subqueries, only
/// listed functions. `unit_rule` names the rule an identifying column breaks here.
pub(crate) fn check_value(expr: &Expr, schema: &DFSchema, origins: &[Origin], unit_rule: &'static str) -> Result<()> {
    let mut verdict = Ok(());
    expr.apply(|e| {
        verdict = check_node(e, schema, origins, unit_rule);
        Ok(if verdict.is_ok() { TreeNodeRecursion::Continue } else { TreeNodeRecursion::Stop })
    })?;
    verdict
}

fn check_node(expr: &Expr, schema: &DFSchema, origins: &[Origin], unit_rule: &'static str) -> Result<()> {
    match expr {
        Expr::Column(column) if origin_of(schema, origins, column).is_some_and(|o| o.identifying) => reject(
            unit_rule,
            format!(
                "{} identifies a unit or a row: it may only be counted with count(DISTINCT ...) or used as a join key",
                column.name
            ),
        ),
        Expr::ScalarFunction(function) => check_function(function.name()),
        Expr::Exists(_) | Expr::InSubquery(_) | Expr::ScalarSubquery(_) | Expr::SetComparison(_) => reject(
            "subquery-below",
            "subqueries (EXISTS, IN, scalar) cannot be combined with protected rows; join public tables instead",
        ),
        Expr::AggregateFunction(_) | Expr::WindowFunction(_) => {
            reject("nested-aggregate", "aggregates cannot be nested inside expressions on protected rows")
        }
        Expr::Column(_)
        | Expr::Literal(..)
        | Expr::OuterReferenceColumn(..)
        | Expr::Placeholder(_)
        | Expr::ScalarVariable(..)
        | Expr::Alias(_)
        | Expr::BinaryExpr(_)
        | Expr::Like(_)
        | Expr::SimilarTo(_)
        | Expr::Not(_)
        | Expr::IsNotNull(_)
        | Expr::IsNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsUnknown(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsNotUnknown(_)
        | Expr::Negative(_)
        | Expr::Between(_)
        | Expr::Case(_)
        | Expr::Cast(_)
        | Expr::TryCast(_)
        | Expr::InList(_) => Ok(()),
        other => reject("expression", format!("{} is not allowed on protected rows", other.variant_name())),
    }
}

fn check_function(name: &str) -> Result<()> {
    let name = name.to_ascii_lowercase();
    if FREE_FUNCTIONS.contains(&name.as_str()) {
        return Ok(());
    }
    reject("function", format!("function {name} is not allowed on protected rows"))
}

pub(crate) fn is_literal(expr: &Expr) -> bool {
    matches!(strip_casts(expr), Expr::Literal(..))
}

pub(crate) fn strip_casts(expr: &Expr) -> &Expr {
    match expr {
        Expr::Cast(cast) => strip_casts(&cast.expr),
        Expr::TryCast(cast) => strip_casts(&cast.expr),
        Expr::Alias(alias) => strip_casts(&alias.expr),
        other => other,
    }
}

/// Makes an expression on protected rows unable to fail on one row: divisions by zero and failed
/// casts give NULL, and what is still not error-free is wrapped in `zicht_safe`.
pub(crate) fn make_safe(expr: Expr, schema: &DFSchema) -> Result<Expr> {
    let expr = neutralize(expr, schema)?;
    guard(expr, schema)
}

/// A predicate made safe conjunct by conjunct, so that the error-free parts (the common case)
/// still prune Parquet row groups.
pub(crate) fn make_safe_predicate(predicate: Expr, schema: &DFSchema) -> Result<Expr> {
    let parts: Vec<Expr> = split_conjunction(&predicate).into_iter().cloned().collect();
    let safe = parts.into_iter().map(|part| make_safe(part, schema)).collect::<Result<Vec<_>>>()?;
    Ok(conjunction(safe).unwrap_or_else(|| lit(true)))
}

fn guard(expr: Expr, schema: &DFSchema) -> Result<Expr> {
    if expr.column_refs().is_empty() || error_free(&expr, schema) {
        return Ok(expr);
    }
    safe_expr::wrap(expr, schema)
}

fn neutralize(expr: Expr, schema: &DFSchema) -> Result<Expr> {
    expr.transform_up(|e| match e {
        Expr::BinaryExpr(BinaryExpr { left, op: op @ (Operator::Divide | Operator::Modulo), right }) => {
            let zero = ScalarValue::new_zero(&right.get_type(schema)?)?;
            let divisor = datafusion::functions::expr_fn::nullif(*right, lit(zero));
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(left, op, Box::new(divisor)))))
        }
        Expr::Cast(cast) => Ok(Transformed::yes(Expr::TryCast(TryCast { expr: cast.expr, field: cast.field }))),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// Whether evaluating `expr` can never fail, whatever the values of its columns: comparisons,
/// boolean logic, tests for NULL, `TRY_CAST`, `CASE`, membership in literal lists, `LIKE` with a
/// literal pattern, and floating-point arithmetic (which overflows to infinity, not to an error).
pub(crate) fn error_free(expr: &Expr, schema: &DFSchema) -> bool {
    let free = |e: &Expr| error_free(e, schema);
    let floating = |e: &Expr| e.get_type(schema).is_ok_and(|t| matches!(t, DataType::Float64 | DataType::Float32));
    match expr {
        Expr::Column(_) | Expr::Literal(..) => true,
        Expr::Alias(alias) => free(&alias.expr),
        Expr::TryCast(cast) => free(&cast.expr),
        Expr::Not(e)
        | Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsTrue(e)
        | Expr::IsFalse(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotTrue(e)
        | Expr::IsNotFalse(e)
        | Expr::IsNotUnknown(e) => free(e),
        Expr::Negative(e) => floating(e) && free(e),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let operands = free(left) && free(right);
            match op {
                Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom
                | Operator::And
                | Operator::Or => operands,
                Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo => {
                    operands && floating(expr)
                }
                _ => false,
            }
        }
        Expr::Like(Like { expr, pattern, escape_char: None, .. }) => free(expr) && is_literal(pattern),
        Expr::Between(between) => free(&between.expr) && free(&between.low) && free(&between.high),
        Expr::InList(InList { expr, list, .. }) => free(expr) && list.iter().all(is_literal),
        Expr::Case(case) => {
            case.expr.as_deref().is_none_or(free)
                && case.when_then_expr.iter().all(|(when, then)| free(when) && free(then))
                && case.else_expr.as_deref().is_none_or(free)
        }
        Expr::ScalarFunction(function) => error_free_function(function.name(), &function.args, schema),
        _ => false,
    }
}

/// Functions that cannot fail on their data argument: rounding floats, and prefixes, parts and
/// case of strings and dates when every other argument is a literal that cannot fail either.
fn error_free_function(name: &str, args: &[Expr], schema: &DFSchema) -> bool {
    let [data, rest @ ..] = args else { return false };
    let literals_ok = rest.iter().all(|a| match strip_casts(a) {
        Expr::Literal(value, _) => {
            !value.is_null()
                && value
                    .cast_to(&DataType::Float64)
                    .map_or(true, |v| matches!(v, ScalarValue::Float64(Some(f)) if f >= 0.0 && f.fract() == 0.0))
        }
        _ => false,
    });
    let floating = data.get_type(schema).is_ok_and(|t| matches!(t, DataType::Float64 | DataType::Float32));
    let free = error_free(data, schema) && literals_ok;
    match name {
        "floor" | "ceil" | "round" | "trunc" | "abs" => free && floating,
        "substr" | "substring" | "left" | "lower" | "upper" | "btrim" | "trim" | "ltrim" | "rtrim" => free,
        "date_part" | "datepart" => {
            // date_part('year', d): the part comes first and is a literal.
            matches!(strip_casts(data), Expr::Literal(..)) && rest.len() == 1 && error_free(&rest[0], schema)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::logical_expr::col;

    fn schema() -> DFSchema {
        DFSchema::try_from(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
        ]))
        .unwrap()
    }

    #[test]
    fn comparisons_and_float_arithmetic_are_error_free() {
        let schema = schema();
        assert!(error_free(&col("i").eq(lit(5i64)).and(col("s").like(lit("BU%"))), &schema));
        assert!(error_free(&(col("f") * lit(2.0)).gt(col("f")), &schema));
        assert!(error_free(&col("i").in_list(vec![lit(1i64), lit(2i64)], false), &schema));
    }

    #[test]
    fn integer_arithmetic_and_functions_are_not() {
        let schema = schema();
        assert!(!error_free(&(col("i") + lit(1i64)), &schema));
        let substr = datafusion::functions::unicode::expr_fn::substr(col("s"), col("i"));
        assert!(!error_free(&substr, &schema));
        assert!(matches!(make_safe(col("i") * lit(3i64), &schema).unwrap(), Expr::ScalarFunction(_)));
        assert!(matches!(make_safe(col("f") * lit(3.0), &schema).unwrap(), Expr::BinaryExpr(_)));
    }
}
