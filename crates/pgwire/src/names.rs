//! Output column names as PostgreSQL gives them. DataFusion names an unaliased expression after
//! its full text (`count(*)`, `sum(regio.gemeente.inwoners)`, `Int64(1)`); PostgreSQL names it
//! after its function or column (`count`, `sum`) or `?column?`, and client code relies on that
//! (`df["count"]` in pandas).

use arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::Column;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, col};
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Query, SelectItem, SetExpr, Statement,
};
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use pgwire::error::PgWireResult;

/// What datafusion-pg-catalog's rewrite of `SELECT n.oid, n.*` (DBeaver's every catalog query)
/// names the first `oid`: a plan may not have two columns of one name, a result may.
const DUPLICATE_ALIAS: &str = "__alias_";

/// The fields a result is described with on the wire: arrow-pg's, each column under the name
/// the client gave it (`oid` twice for `n.oid, n.*`, as PostgreSQL's).
pub(crate) fn pg_fields(schema: &Schema, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match field.name().strip_prefix(DUPLICATE_ALIAS) {
            Some(name) => field.as_ref().clone().with_name(name),
            None => field.as_ref().clone(),
        })
        .collect();
    let described = arrow_schema_to_pg_fields(&Schema::new(fields.clone()), format, None)?;
    // arrow-pg describes every list by its physical element type: a list of oids as int4[].
    Ok(described
        .into_iter()
        .zip(&fields)
        .map(|(info, field)| match crate::oid_arrays::oid_array_type(field.data_type()) {
            Some(oid_array) => {
                FieldInfo::new(info.name().to_string(), info.table_id(), info.column_id(), oid_array, info.format())
            }
            None => info,
        })
        .collect())
}

/// Renames the plan's output columns that the query left unaliased, when the names PostgreSQL
/// would give are unique; otherwise the plan is returned as it is.
pub fn with_postgres_names(statement: &Statement, plan: LogicalPlan) -> LogicalPlan {
    let Some(names) = postgres_names(statement) else { return plan };
    let fields = plan.schema().fields();
    if names.len() != fields.len() || has_duplicates(&names) {
        return plan;
    }
    if fields.iter().zip(&names).all(|(field, name)| field.name() == name) {
        return plan;
    }
    let columns: Vec<_> = plan
        .schema()
        .iter()
        .zip(&names)
        .map(|((qualifier, field), name)| col(Column::new(qualifier.cloned(), field.name())).alias(name))
        .collect();
    match LogicalPlanBuilder::from(plan.clone()).project(columns).and_then(|b| b.build()) {
        Ok(renamed) => renamed,
        Err(_) => plan,
    }
}

/// The names of a plain SELECT's columns, or None for anything else (wildcards, set operations).
fn postgres_names(statement: &Statement) -> Option<Vec<String>> {
    let Statement::Query(query) = statement else { return None };
    query_names(query)
}

fn query_names(query: &Query) -> Option<Vec<String>> {
    let SetExpr::Select(select) = query.body.as_ref() else { return None };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(expr) => Some(expression_name(expr)),
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        })
        .collect()
}

fn expression_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => parts.last().map_or_else(unnamed, |p| p.value.clone()),
        Expr::Function(function) if function.name.to_string() == crate::reg_cast::NAME => oid_alias_name(function),
        // A type oid cast to text, rewritten ([`crate::type_names`]): named after the oid's column.
        Expr::Function(function) if crate::type_names::is_type_name_call(function) => {
            crate::compat::arguments(function).first().map_or_else(unnamed, |argument| expression_name(argument))
        }
        // `ARRAY(subquery)` looked up in a list ([`crate::any_lookups`]): named as PostgreSQL names `ARRAY(...)`.
        Expr::Function(function) if function.name.to_string() == crate::any_lookups::ROWS_IN_LIST => {
            "array".to_string()
        }
        Expr::Function(function) => {
            function.name.0.last().map_or_else(unnamed, |p| p.to_string().trim_matches('"').to_ascii_lowercase())
        }
        Expr::Cast { expr, .. } | Expr::Nested(expr) => expression_name(expr),
        Expr::Case { .. } => "case".to_string(),
        // A scalar subquery is named after its column.
        Expr::Subquery(query) => query_names(query).and_then(|names| names.into_iter().next()).unwrap_or_else(unnamed),
        _ => unnamed(),
    }
}

/// A checked `'name'::regclass` is named after its type, as PostgreSQL names a cast of a literal.
fn oid_alias_name(function: &Function) -> String {
    let FunctionArguments::List(list) = &function.args else { return unnamed() };
    match list.args.first() {
        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(value)))) => {
            value.value.clone().into_string().unwrap_or_else(unnamed)
        }
        _ => unnamed(),
    }
}

fn unnamed() -> String {
    "?column?".to_string()
}

fn has_duplicates(names: &[String]) -> bool {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.windows(2).any(|pair| pair[0] == pair[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn a_column_aliased_apart_from_its_duplicate_keeps_its_name_on_the_wire() {
        use datafusion::arrow::datatypes::DataType;
        let schema = Schema::new(vec![
            Field::new("__alias_oid", DataType::Int32, true),
            Field::new("oid", DataType::Int32, true),
            Field::new("nspname", DataType::Utf8, true),
        ]);
        let fields = pg_fields(&schema, &Format::UnifiedText).unwrap();
        let names: Vec<&str> = fields.iter().map(FieldInfo::name).collect();
        assert_eq!(names, ["oid", "oid", "nspname"]);
        let oids = Schema::new(vec![Field::new("attrtypoids", crate::oid_arrays::oid_list_type(), true)]);
        let fields = pg_fields(&oids, &Format::UnifiedBinary).unwrap();
        assert_eq!(fields[0].datatype(), &pgwire::api::Type::OID_ARRAY);
    }

    async fn names(sql: &str) -> Vec<String> {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (a INT, b INT)").await.unwrap();
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().pop().unwrap();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        with_postgres_names(&statement, plan).schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    #[tokio::test]
    async fn unaliased_columns_are_named_as_postgresql_names_them() {
        assert_eq!(
            names("SELECT count(*), sum(t.a), upper('x'), 1 FROM t").await,
            ["count", "sum", "upper", "?column?"]
        );
        assert_eq!(names("SELECT b, t.a + 1, CAST(a AS BIGINT) AS c FROM t").await, ["b", "?column?", "c"]);
        assert_eq!(names("SELECT CAST(a AS BIGINT), (b) FROM t").await, ["a", "b"]);
        assert_eq!(names("SELECT a AS x, count(*) AS n FROM t GROUP BY a").await, ["x", "n"]);
        // Names PostgreSQL would repeat are left as DataFusion gives them.
        assert_eq!(names("SELECT sum(a), sum(b) FROM t").await, ["sum(t.a)", "sum(t.b)"]);
        assert_eq!(names("SELECT * FROM t").await, ["a", "b"]);
        // A scalar subquery after its column, as PostgreSQL names it.
        assert_eq!(
            names("SELECT (SELECT max(a) FROM t), (SELECT b AS x FROM t LIMIT 1), (SELECT 1) FROM t").await,
            ["max", "x", "?column?"]
        );
    }
}
