//! `ARRAY(SELECT v FROM pg_catalog.t WHERE k = ANY (list) [ORDER BY 1])` of an outer row's list.
//!
//! psql's `\dp` (and `\z`) names the roles of each row-level policy with
//! `ARRAY(SELECT rolname FROM pg_catalog.pg_roles WHERE oid = ANY (polroles) ORDER BY 1)`, a
//! subquery correlated to the policy row through `= ANY` of its array. DataFusion decorrelates an
//! aggregating subquery through equalities only, so the statement failed to plan. Such a subquery
//! over one catalog table becomes `zicht_rows_in_list(list, (SELECT array_agg(named_struct('k', k,
//! 'v', v)) FROM t), descending)`: the table's (key, value) pairs, read once, uncorrelated, and
//! for each outer row the values whose key is in its list, in the table's order or sorted. An
//! outer row whose list is NULL or matches nothing gets an empty array, as `ARRAY()` of no rows.
//!
//! Only for catalog tables, whose columns the list cannot be: a list named without a qualifier is
//! taken from the outer row, which is what PostgreSQL does when the table has no such column.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, new_empty_array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Select, TableFactor};

/// The function the subquery becomes.
pub(crate) const ROWS_IN_LIST: &str = "zicht_rows_in_list";

/// The call `ARRAY(SELECT value FROM <select's table> WHERE k = ANY (list) ORDER BY 1 <direction>)`
/// becomes, when `select` reads one catalog table with that condition alone; else None.
/// `direction` is None for no ORDER BY, else the ORDER BY's options (`""`, `" ASC"`, `" DESC"`).
pub(crate) fn rows_in_outer_list(select: &Select, value: &Expr, direction: Option<&str>) -> Option<Expr> {
    let descending = match direction.map(str::trim) {
        None => "NULL",
        Some("" | "ASC") => "false",
        Some("DESC") => "true",
        Some(_) => return None,
    };
    let [from] = select.from.as_slice() else { return None };
    let TableFactor::Table { name, alias, .. } = &from.relation else { return None };
    let parts = zicht_engine::name_parts(name);
    if !from.joins.is_empty() || !crate::compat::is_pg_catalog_table(&parts) {
        return None;
    }
    let (key, list) = key_in_list(select.selection.as_ref()?)?;
    if names_the_table(list, &parts, alias.as_ref().map(|alias| alias.name.value.as_str())) {
        return None;
    }
    let alias = alias.as_ref().map(|alias| format!(" {alias}")).unwrap_or_default();
    crate::compat::parse_expression(&format!(
        "{ROWS_IN_LIST}({list}, (SELECT array_agg(named_struct('k', {key}, 'v', {value})) FROM {name}{alias}), {descending})"
    ))
}

/// `(k, list)` of the condition `k = ANY (list)`, or of `array_contains(list, k)`, as
/// datafusion-pg-catalog's compatibility parser rewrites it.
fn key_in_list(condition: &Expr) -> Option<(&Expr, &Expr)> {
    match condition {
        Expr::AnyOp { left, compare_op: BinaryOperator::Eq, right, is_some: false } => Some((left, right)),
        Expr::Function(function) => {
            let name = function.name.to_string().to_lowercase();
            let [list, key] = crate::compat::arguments(function)[..] else { return None };
            matches!(name.as_str(), "array_contains" | "array_has").then_some((key, list))
        }
        _ => None,
    }
}

/// Whether `list` is a column qualified by the table's name or alias (then it is the table's own
/// column, not the outer row's).
fn names_the_table(list: &Expr, table: &[String], alias: Option<&str>) -> bool {
    let Expr::CompoundIdentifier(parts) = list else { return false };
    let Some(qualifier) = parts.len().checked_sub(2).map(|i| parts[i].value.to_lowercase()) else { return false };
    alias.is_some_and(|alias| alias.eq_ignore_ascii_case(&qualifier)) || table.last() == Some(&qualifier)
}

pub(crate) fn rows_in_list_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(RowsInList { signature: Signature::any(3, Volatility::Immutable) })
}

/// `zicht_rows_in_list(list, pairs, descending)`: the `v` of each `(k, v)` of `pairs` whose `k`
/// is in `list`, in the pairs' order (`descending` NULL) or sorted.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RowsInList {
    signature: Signature,
}

impl ScalarUDFImpl for RowsInList {
    fn name(&self) -> &str {
        ROWS_IN_LIST
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arguments: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(value_type(&arguments[1])?, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [lists, pairs, descending] = [0, 1, 2].map(|i| args.args[i].to_array(rows));
        let (lists, pairs, descending) = (lists?, pairs?, descending?);
        let value_type = value_type(pairs.data_type())?;
        let mut results = Vec::with_capacity(rows);
        for row in 0..rows {
            let mut picked = picked_values(&lists, &pairs, row)?;
            if let ScalarValue::Boolean(Some(descending)) = ScalarValue::try_from_array(&descending, row)? {
                picked.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                if descending {
                    picked.reverse();
                }
            }
            results.push(ScalarValue::List(ScalarValue::new_list_nullable(&picked, &value_type)));
        }
        let array = match results.is_empty() {
            true => new_empty_array(&DataType::new_list(value_type, true)),
            false => ScalarValue::iter_to_array(results)?,
        };
        crate::catalog::function_result(&args.args, array)
    }
}

/// The type of the `v` field of a list of `(k, v)` structs.
fn value_type(pairs: &DataType) -> Result<DataType> {
    match pairs {
        DataType::List(element) => match element.data_type() {
            DataType::Struct(fields) if fields.len() == 2 => Ok(fields[1].data_type().clone()),
            other => exec_err!("{ROWS_IN_LIST} takes a list of (k, v) pairs, not of {other}"),
        },
        DataType::Null => Ok(DataType::Null),
        other => exec_err!("{ROWS_IN_LIST} takes a list of (k, v) pairs, not {other}"),
    }
}

/// The values of row `row`'s pairs whose key is in its list.
fn picked_values(lists: &ArrayRef, pairs: &ArrayRef, row: usize) -> Result<Vec<ScalarValue>> {
    let (DataType::List(_), DataType::List(_)) = (lists.data_type(), pairs.data_type()) else { return Ok(Vec::new()) };
    if lists.is_null(row) || pairs.is_null(row) {
        return Ok(Vec::new());
    }
    let wanted = lists.as_list::<i32>().value(row);
    let entries = pairs.as_list::<i32>().value(row);
    let entries = entries.as_struct();
    let (keys, values) = (entries.column(0), entries.column(1));
    let wanted = (0..wanted.len()).map(|i| ScalarValue::try_from_array(&wanted, i)).collect::<Result<Vec<_>>>()?;
    let mut picked = Vec::new();
    for entry in 0..entries.len() {
        let key = ScalarValue::try_from_array(keys, entry)?;
        if !key.is_null() && is_among(&key, &wanted)? {
            picked.push(ScalarValue::try_from_array(values, entry)?);
        }
    }
    Ok(picked)
}

/// Whether `key` equals one of `wanted` (compared in the key's type: oid lists hold Int32, a
/// table's oid column may be Int64).
fn is_among(key: &ScalarValue, wanted: &[ScalarValue]) -> Result<bool> {
    for candidate in wanted.iter().filter(|candidate| !candidate.is_null()) {
        if &candidate.cast_to(&key.data_type())? == key {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;
    use datafusion::sql::sqlparser::ast::{Query, SetExpr};
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn select_of(sql: &str) -> Select {
        let query: Query = *Parser::new(&PostgreSqlDialect {}).try_with_sql(sql).unwrap().parse_query().unwrap();
        let SetExpr::Select(select) = *query.body else { panic!("a select") };
        *select
    }

    #[test]
    fn a_catalog_lookup_by_an_outer_list_becomes_a_call() {
        let select = select_of("SELECT rolname FROM pg_catalog.pg_roles WHERE oid = ANY (polroles)");
        let value = Expr::Identifier("rolname".into());
        let call = rows_in_outer_list(&select, &value, Some("")).unwrap().to_string();
        assert_eq!(
            call,
            "zicht_rows_in_list(polroles, (SELECT array_agg(named_struct('k', oid, 'v', rolname)) \
             FROM pg_catalog.pg_roles), false)"
        );
        let rewritten = select_of("SELECT rolname FROM pg_catalog.pg_roles WHERE array_contains(polroles, oid)");
        assert_eq!(rows_in_outer_list(&rewritten, &value, Some("")).unwrap().to_string(), call);
        for other in [
            "SELECT rolname FROM basis.persoon WHERE oid = ANY (polroles)",
            "SELECT rolname FROM pg_roles r WHERE oid = ANY (r.roles)",
            "SELECT rolname FROM pg_roles WHERE oid = ANY (polroles) AND true",
            "SELECT rolname FROM pg_roles, pg_class WHERE oid = ANY (polroles)",
        ] {
            assert_eq!(rows_in_outer_list(&select_of(other), &value, None), None, "{other}");
        }
    }

    #[tokio::test]
    async fn each_row_gets_the_values_whose_key_is_in_its_list() {
        let ctx = SessionContext::new();
        ctx.register_udf(rows_in_list_udf());
        let sql = "SELECT zicht_rows_in_list(l, (SELECT array_agg(named_struct('k', k, 'v', v)) FROM \
                   (VALUES (1, 'b'), (2, 'a'), (3, 'c')) t(k, v)), d) AS picked \
                   FROM (VALUES (1, [2, 1], false), (2, [3, 2], true), (3, [9], false), (4, NULL, false), \
                   (5, [3, 1], NULL)) o(n, l, d) ORDER BY n";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let shown = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        let rows: Vec<&str> = shown.lines().filter(|line| line.starts_with("| ") && !line.contains("picked")).collect();
        assert_eq!(rows, ["| [a, b] |", "| [c, a] |", "| []     |", "| []     |", "| [b, c] |"], "{shown}");
    }
}
