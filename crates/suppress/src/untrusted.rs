//! The untrusted level's SQL over protected rows: a small canonical subset, as pg_diffix's
//! `anonymized_untrusted`.
//!
//! Below an aggregate an untrusted analyst may use catalog columns and *buckets* of them
//! (`floor(inkomen / 10000) * 10000` with a width of the 1-2-5 series, `substr(bu_code, 1, 6)`,
//! `date_part('year', d)`), filter with conjunctions of *positive equalities* on those, and measure
//! catalog columns. Everything an analyst writes therefore has one canonical text: the noise layers
//! are seeded by it, the budget counts it, and no analyst-written value, error or row weighting can
//! reach a suppression decision. What a filter cannot express is done by grouping: `GROUP BY x`
//! and pick the rows you need from the released result.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{Between, InList, Like};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};

use crate::error::reject;
use crate::expression::strip_casts;
use crate::lineage::{Origin, Value, origin_of};
use crate::noise::is_125;

const FILTER_HELP: &str = "at the untrusted level a filter on protected rows is a conjunction (AND) of \
     `column = value`, `column IS NULL`, `column LIKE 'prefix%'` and ranges that are buckets \
     (`jaar BETWEEN 2020 AND 2029` on whole numbers: a width of 1, 2, 5, 10, 20, 50, ... starting at \
     a multiple of it; `floor(inkomen / 1000) * 1000 = 51000` on any number); a column may be a \
     bucket itself (floor(x / 1000) * 1000, substr(code, 1, 4)). For anything else, GROUP BY the \
     column and pick the rows you need from the result";
const VALUE_HELP: &str = "at the untrusted level only catalog columns and buckets of them (floor(x / 1000) * \
     1000 with a width of the 1-2-5 series, substr(code, 1, n), date_part('year', d)) may be used \
     below an aggregate; compute on the aggregated result instead";

/// The canonical text of a column or a bucket of one, or None if `expr` is neither.
pub(crate) fn bucket(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Option<String> {
    if let Some(origin) = column_origin(expr, schema, origins) {
        return match origin.value {
            Value::Catalog { .. } | Value::Generalized => Some(origin.canonical.clone()),
            Value::Computed => None,
        };
    }
    floor_bucket(expr, schema, origins)
        .or_else(|| prefix_bucket(expr, schema, origins))
        .or_else(|| date_bucket(expr, schema, origins))
}

/// A plain column (through the widening casts type coercion adds) that is not identifying.
fn column_origin<'a>(expr: &Expr, schema: &DFSchema, origins: &'a [Origin]) -> Option<&'a Origin> {
    match strip_widening_casts(expr, schema) {
        Expr::Column(column) => origin_of(schema, origins, column).filter(|o| !o.identifying),
        _ => None,
    }
}

/// Strips casts that keep every value as it is (an integer to a wider integer or a float, text to
/// text): the casts type coercion puts on columns. A cast an analyst writes to change values
/// (`CAST(CAST(inkomen AS VARCHAR) AS INT)`) is a computation, not a column.
fn strip_widening_casts<'a>(expr: &'a Expr, schema: &DFSchema) -> &'a Expr {
    let (inner, target) = match expr {
        Expr::Cast(cast) => (cast.expr.as_ref(), cast.field.data_type()),
        Expr::TryCast(cast) => (cast.expr.as_ref(), cast.field.data_type()),
        Expr::Alias(alias) => return strip_widening_casts(&alias.expr, schema),
        other => return other,
    };
    let Ok(source) = inner.get_type(schema) else { return expr };
    let widening = (source.is_integer() && (target.is_integer() || target.is_floating()))
        || (source.is_floating() && target.is_floating())
        || (is_text(&source) && is_text(target))
        || source == *target;
    if widening { strip_widening_casts(inner, schema) } else { expr }
}

fn is_text(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

fn catalog_column<'a>(expr: &Expr, schema: &DFSchema, origins: &'a [Origin]) -> Option<&'a Origin> {
    column_origin(expr, schema, origins).filter(|o| o.catalog().is_some())
}

/// `floor(x / w) * w` with a width `w` of the 1-2-5 series.
fn floor_bucket(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Option<String> {
    let Expr::BinaryExpr(BinaryExpr { left, op: Operator::Multiply, right }) = strip_casts(expr) else { return None };
    let width = number(right)?;
    let Expr::ScalarFunction(floor) = strip_casts(left) else { return None };
    if floor.name() != "floor" || floor.args.len() != 1 {
        return None;
    }
    let Expr::BinaryExpr(BinaryExpr { left: x, op: Operator::Divide, right: divisor }) = strip_casts(&floor.args[0])
    else {
        return None;
    };
    let origin = catalog_column(x, schema, origins)?;
    (is_125(width) && number(divisor) == Some(width))
        .then(|| format!("floor({} / {width}) * {width}", origin.canonical))
}

/// `substr(code, 1, n)`, `substring(code, 1, n)` or `left(code, n)`.
fn prefix_bucket(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Option<String> {
    let Expr::ScalarFunction(function) = strip_casts(expr) else { return None };
    let (column, length) = match (function.name(), function.args.as_slice()) {
        ("substr" | "substring", [column, start, length]) if number(start) == Some(1.0) => (column, length),
        ("left", [column, length]) => (column, length),
        _ => return None,
    };
    let origin = catalog_column(column, schema, origins)?;
    let length = number(length).filter(|n| *n >= 1.0 && n.fract() == 0.0)?;
    Some(format!("substr({}, 1, {length})", origin.canonical))
}

/// `date_part('year' | 'month', d)`.
fn date_bucket(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Option<String> {
    let Expr::ScalarFunction(function) = strip_casts(expr) else { return None };
    let ("date_part" | "datepart", [part, column]) = (function.name(), function.args.as_slice()) else { return None };
    let part = text(part).filter(|p| matches!(p.to_ascii_lowercase().as_str(), "year" | "month"))?;
    let origin = catalog_column(column, schema, origins)?;
    Some(format!("date_part('{}', {})", part.to_ascii_lowercase(), origin.canonical))
}

/// A literal as a number.
fn number(expr: &Expr) -> Option<f64> {
    match strip_casts(expr) {
        Expr::Literal(value, _) if !value.is_null() => match value.cast_to(&DataType::Float64).ok()? {
            ScalarValue::Float64(Some(v)) => Some(v),
            _ => None,
        },
        _ => None,
    }
}

fn text(expr: &Expr) -> Option<String> {
    match strip_casts(expr) {
        Expr::Literal(value, _) => value.try_as_str().flatten().map(str::to_string),
        _ => None,
    }
}

/// A non-NULL literal in canonical form: numbers as numbers (`1961` for 1961, 1961.0 and
/// '1961'::int), text quoted.
fn canonical_literal(expr: &Expr) -> Option<String> {
    let Expr::Literal(value, _) = strip_casts(expr) else { return None };
    if value.is_null() {
        return None;
    }
    if let Some(text) = value.try_as_str().flatten() {
        return Some(format!("'{}'", text.replace('\'', "''")));
    }
    if let ScalarValue::Boolean(Some(b)) = value {
        return Some(b.to_string());
    }
    match value.cast_to(&DataType::Float64) {
        Ok(ScalarValue::Float64(Some(v))) => Some(format!("{v}")),
        _ => Some(value.to_string()),
    }
}

/// The canonical text of one filter atom, or a refusal that says what is allowed.
pub(crate) fn filter_atom(atom: &Expr, schema: &DFSchema, origins: &[Origin]) -> Result<String> {
    let canonical = match atom {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            equality(left, right, schema, origins).or_else(|| equality(right, left, schema, origins))
        }
        Expr::InList(InList { expr, list, negated: false }) if list.len() == 1 => {
            equality(expr, &list[0], schema, origins)
        }
        Expr::IsNull(expr) => bucket(expr, schema, origins).map(|b| format!("{b} IS NULL")),
        Expr::IsTrue(expr) => boolean(expr, schema, origins, true),
        Expr::IsFalse(expr) => boolean(expr, schema, origins, false),
        Expr::Not(expr) => boolean(expr, schema, origins, false),
        Expr::Column(_) | Expr::Cast(_) | Expr::TryCast(_) => boolean(atom, schema, origins, true),
        Expr::Between(between) => range(between, schema, origins),
        Expr::Like(like) => prefix(like, schema, origins),
        _ => None,
    };
    match canonical {
        Some(canonical) => Ok(canonical),
        None => reject("untrusted-filter", FILTER_HELP),
    }
}

fn equality(bucketed: &Expr, literal: &Expr, schema: &DFSchema, origins: &[Origin]) -> Option<String> {
    Some(format!("{} = {}", bucket(bucketed, schema, origins)?, canonical_literal(literal)?))
}

fn boolean(expr: &Expr, schema: &DFSchema, origins: &[Origin], value: bool) -> Option<String> {
    let is_boolean = expr.get_type(schema).is_ok_and(|t| t == DataType::Boolean);
    let column = bucket(expr, schema, origins)?;
    is_boolean.then(|| format!("{column} = {value}"))
}

/// `x BETWEEN low AND high` as a bucket: on an integer column the inclusive range [low, high]
/// holds `high - low + 1` values, on a fractional one it spans `high - low`.
fn range(between: &Between, schema: &DFSchema, origins: &[Origin]) -> Option<String> {
    if between.negated {
        return None;
    }
    let origin = catalog_column(&between.expr, schema, origins)?;
    let (low, high) = (number(&between.low)?, number(&between.high)?);
    // BETWEEN includes both ends: on whole numbers [20, 29] is the bucket of ten starting at 20;
    // on fractional numbers it would also hold 30, so there a bucket is written as floor(...).
    let integer = strip_widening_casts(&between.expr, schema).get_type(schema).is_ok_and(|t| t.is_integer());
    if !integer {
        return None;
    }
    let width = high - low + 1.0;
    let aligned = (low / width).fract().abs() < 1e-9;
    (is_125(width) && aligned).then(|| format!("floor({} / {width}) * {width} = {low}", origin.canonical))
}

/// `code LIKE 'prefix%'`: the same as `substr(code, 1, n) = 'prefix'`.
fn prefix(like: &Like, schema: &DFSchema, origins: &[Origin]) -> Option<String> {
    if like.negated || like.case_insensitive || like.escape_char.is_some() {
        return None;
    }
    let pattern = text(&like.pattern)?;
    let prefix = pattern.strip_suffix('%')?;
    if prefix.is_empty() || prefix.contains(['%', '_', '\\']) {
        return None;
    }
    let origin = catalog_column(&like.expr, schema, origins)?;
    Some(format!("substr({}, 1, {}) = '{}'", origin.canonical, prefix.chars().count(), prefix.replace('\'', "''")))
}

/// A value used below an aggregate (a group key, a projected column): a column or a bucket.
pub(crate) fn value(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Result<String> {
    match bucket(expr, schema, origins) {
        Some(canonical) => Ok(canonical),
        None => reject("untrusted-expression", VALUE_HELP),
    }
}

/// What an aggregate measures: a catalog column, itself.
pub(crate) fn measured_column(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Result<String> {
    match catalog_column(expr, schema, origins) {
        Some(origin) => Ok(origin.canonical.clone()),
        None => reject(
            "untrusted-measure",
            "at the untrusted level an aggregate measures a catalog column as it is (sum(inkomen), \
             avg(koopsom), count(*) FILTER (WHERE ...)); no expressions inside aggregates",
        ),
    }
}

/// Percentiles at fixed points only: multiples of 0.05 from 0.1 to 0.9. Returns the exact fixed
/// point, so that every spelling of it (0.3, 0.30000000001) is one question with one noise:
/// otherwise each near-spelling would draw fresh noise, and their average would converge.
pub(crate) fn percentile_fraction(fraction: f64) -> Result<f64> {
    let twentieths = fraction * 20.0;
    if (0.1..=0.9).contains(&fraction) && (twentieths - twentieths.round()).abs() < 1e-9 {
        return Ok(twentieths.round() / 20.0);
    }
    reject(
        "untrusted-percentile",
        "at the untrusted level percentiles are taken at 0.1, 0.15, ..., 0.9 (multiples of 0.05)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::Value;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::logical_expr::{col, lit};
    use std::sync::Arc;

    fn fixture() -> (DFSchema, Vec<Origin>) {
        let catalog = zicht_catalog::Catalog::embedded().unwrap();
        let persoon = Arc::new(catalog.table("basis", "persoon").unwrap().clone());
        let columns = [
            ("persoon_id", DataType::Int64),
            ("geboortejaar", DataType::Int32),
            ("inkomen", DataType::Float64),
            ("bu_code", DataType::Utf8),
        ];
        let schema = DFSchema::try_from(Schema::new(
            columns.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>(),
        ))
        .unwrap();
        let origins = columns
            .iter()
            .map(|(name, _)| Origin {
                canonical: format!("basis.persoon.{name}"),
                value: Value::Catalog { table: Arc::clone(&persoon), column: name.to_string() },
                identifying: *name == "persoon_id",
                protected: true,
            })
            .collect();
        (schema, origins)
    }

    #[test]
    fn equalities_on_columns_and_buckets_are_canonical() {
        let (schema, origins) = fixture();
        let atom = |e: Expr| filter_atom(&e, &schema, &origins);
        assert_eq!(atom(col("geboortejaar").eq(lit(1961i64))).unwrap(), "basis.persoon.geboortejaar = 1961");
        assert_eq!(atom(lit(1961.0).eq(col("geboortejaar"))).unwrap(), "basis.persoon.geboortejaar = 1961");
        assert_eq!(
            atom(col("geboortejaar").between(lit(1960i64), lit(1969i64))).unwrap(),
            "floor(basis.persoon.geboortejaar / 10) * 10 = 1960"
        );
        assert_eq!(
            atom(col("bu_code").like(lit("BU0363%"))).unwrap(),
            "substr(basis.persoon.bu_code, 1, 6) = 'BU0363'"
        );
    }

    #[test]
    fn negations_free_ranges_and_identifiers_are_refused() {
        let (schema, origins) = fixture();
        let refused = |e: Expr| filter_atom(&e, &schema, &origins).is_err();
        assert!(refused(col("geboortejaar").not_eq(lit(1961i64))));
        assert!(refused(col("geboortejaar").gt(lit(1961i64))));
        assert!(refused(col("geboortejaar").between(lit(1960i64), lit(1965i64))));
        assert!(refused(col("geboortejaar").in_list(vec![lit(1960i64), lit(1961i64)], false)));
        assert!(refused(col("persoon_id").eq(lit(7i64))));
        assert!(refused(col("bu_code").like(lit("%63%"))));
        assert!(refused((col("inkomen") + lit(1.0)).eq(lit(34000.0))));
    }

    #[test]
    fn percentiles_at_fixed_points() {
        assert_eq!(percentile_fraction(0.5).unwrap(), 0.5);
        assert_eq!(percentile_fraction(0.3000000000188).unwrap(), percentile_fraction(0.3).unwrap());
        assert_eq!(percentile_fraction(0.1 + 0.2).unwrap(), 0.3);
        assert!(percentile_fraction(0.25).is_ok());
        assert!(percentile_fraction(0.99).is_err());
        assert!(percentile_fraction(0.33).is_err());
    }
}
