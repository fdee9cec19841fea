//! `information_schema.columns`, `.tables` and `.views` as PostgreSQL defines them, over
//! DataFusion's own, and the tables DataFusion lacks that client tools read: the constraint
//! tables (`table_constraints`, `key_column_usage`, ...; no rows, the warehouse declares no
//! keys) and `character_sets` (Power BI).
//!
//! DataFusion's information schema names a column's type as Arrow does (`Int64`, `Utf8View`),
//! numbers columns from 0, lists every table among the views, and lacks the columns client tools
//! read (`udt_name`, `is_identity`, `view_definition`). Grafana's query builder then treated
//! numbers as text, Metabase synced tables without columns, psql listed base tables as views. A
//! statement's references to these tables are replaced with a query over DataFusion's table
//! that answers with PostgreSQL 15's columns, names and values: the type names of the PostgreSQL
//! types the wire protocol sends for each column (the ones in `pg_attribute`), positions from 1,
//! views only among the views. Both front ends (the wire server and the embedded engine) plan
//! statements through here, so one query has one answer.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, SetExpr, Statement, TableAlias, TableFactor, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// A PostgreSQL type as information_schema describes it, for the Arrow types whose display text
/// matches `arrow` (an SQL LIKE pattern).
struct PgType {
    arrow: &'static str,
    data_type: &'static str,
    udt_name: &'static str,
    /// numeric_precision, numeric_precision_radix, numeric_scale
    numeric: [Option<u32>; 3],
    datetime_precision: Option<u32>,
    /// character_octet_length (PostgreSQL's for text: 1 GB).
    octet_length: Option<u32>,
}

const fn pg(arrow: &'static str, data_type: &'static str, udt_name: &'static str) -> PgType {
    PgType { arrow, data_type, udt_name, numeric: [None; 3], datetime_precision: None, octet_length: None }
}

const fn integer(arrow: &'static str, data_type: &'static str, udt_name: &'static str, bits: u32) -> PgType {
    PgType { numeric: [Some(bits), Some(2), Some(0)], ..pg(arrow, data_type, udt_name) }
}

const fn float(arrow: &'static str, data_type: &'static str, udt_name: &'static str, bits: u32) -> PgType {
    PgType { numeric: [Some(bits), Some(2), None], ..pg(arrow, data_type, udt_name) }
}

const fn text(arrow: &'static str) -> PgType {
    PgType { octet_length: Some(1_073_741_824), ..pg(arrow, "text", "text") }
}

const fn datetime(arrow: &'static str, data_type: &'static str, udt_name: &'static str, precision: u32) -> PgType {
    PgType { datetime_precision: Some(precision), ..pg(arrow, data_type, udt_name) }
}

/// The Arrow types of the warehouse and the catalogs, in the order they are matched (a time
/// zone first: `Timestamp(µs, "UTC")`).
const TYPES: &[PgType] = &[
    integer("Int64", "bigint", "int8", 64),
    integer("Int32", "integer", "int4", 32),
    integer("Int16", "smallint", "int2", 16),
    integer("Int8", "smallint", "int2", 16),
    float("Float64", "double precision", "float8", 53),
    float("Float32", "real", "float4", 24),
    text("Utf8"),
    text("Utf8View"),
    text("LargeUtf8"),
    pg("Boolean", "boolean", "bool"),
    pg("Binary", "bytea", "bytea"),
    pg("BinaryView", "bytea", "bytea"),
    datetime("Date32", "date", "date", 0),
    datetime("Timestamp(%,%", "timestamp with time zone", "timestamptz", 6),
    datetime("Timestamp(%", "timestamp without time zone", "timestamp", 6),
    pg("Decimal%", "numeric", "numeric"),
    pg("List(Int64)", "ARRAY", "_int8"),
    pg("List(Int32)", "ARRAY", "_int4"),
    pg("List(Int16)", "ARRAY", "_int2"),
    pg("List(Float64)", "ARRAY", "_float8"),
    pg("List(Utf8%", "ARRAY", "_text"),
    pg("List(%", "ARRAY", "_text"),
];

/// A CASE over the Arrow type of DataFusion's column `c.data_type`, one arm per type that has
/// a value for `part`; `otherwise` (of `sql_type`) for the others.
fn case(sql_type: &str, otherwise: &str, part: impl Fn(&PgType) -> Option<String>) -> String {
    let arms: String = TYPES
        .iter()
        .filter_map(|t| part(t).map(|value| format!(" WHEN c.data_type LIKE '{}' THEN {value}", t.arrow)))
        .collect();
    format!("CAST(CASE{arms} ELSE {otherwise} END AS {sql_type})")
}

fn quoted(text: &str) -> Option<String> {
    Some(format!("'{text}'"))
}

fn columns_query() -> String {
    let number = |value: Option<u32>| value.map(|v| v.to_string());
    let data_type = case("VARCHAR", "'USER-DEFINED'", |t| quoted(t.data_type));
    let null = "CAST(NULL AS VARCHAR)";
    format!(
        "SELECT c.table_catalog, c.table_schema, c.table_name, c.column_name, \
         CAST(c.ordinal_position + 1 AS INT) AS ordinal_position, c.column_default, c.is_nullable, \
         {data_type} AS data_type, CAST(NULL AS INT) AS character_maximum_length, \
         {} AS character_octet_length, {} AS numeric_precision, {} AS numeric_precision_radix, \
         {} AS numeric_scale, {} AS datetime_precision, {null} AS interval_type, \
         CAST(NULL AS INT) AS interval_precision, {null} AS character_set_catalog, \
         {null} AS character_set_schema, {null} AS character_set_name, {null} AS collation_catalog, \
         {null} AS collation_schema, {null} AS collation_name, {null} AS domain_catalog, \
         {null} AS domain_schema, {null} AS domain_name, c.table_catalog AS udt_catalog, \
         'pg_catalog' AS udt_schema, {} AS udt_name, {null} AS scope_catalog, {null} AS scope_schema, \
         {null} AS scope_name, CAST(NULL AS INT) AS maximum_cardinality, \
         CAST(c.ordinal_position + 1 AS VARCHAR) AS dtd_identifier, 'NO' AS is_self_referencing, \
         'NO' AS is_identity, {null} AS identity_generation, {null} AS identity_start, \
         {null} AS identity_increment, {null} AS identity_maximum, {null} AS identity_minimum, \
         'NO' AS identity_cycle, 'NEVER' AS is_generated, {null} AS generation_expression, \
         'NO' AS is_updatable \
         FROM information_schema.columns c",
        case("INT", "NULL", |t| number(t.octet_length)),
        case("INT", "NULL", |t| number(t.numeric[0])),
        case("INT", "NULL", |t| number(t.numeric[1])),
        case("INT", "NULL", |t| number(t.numeric[2])),
        case("INT", "NULL", |t| number(t.datetime_precision)),
        case("VARCHAR", "NULL", |t| quoted(t.udt_name)),
    )
}

/// Nothing in this warehouse can be written, so nothing is insertable or updatable.
const TABLES: &str = "SELECT t.table_catalog, t.table_schema, t.table_name, t.table_type, \
     CAST(NULL AS VARCHAR) AS self_referencing_column_name, CAST(NULL AS VARCHAR) AS reference_generation, \
     CAST(NULL AS VARCHAR) AS user_defined_type_catalog, CAST(NULL AS VARCHAR) AS user_defined_type_schema, \
     CAST(NULL AS VARCHAR) AS user_defined_type_name, 'NO' AS is_insertable_into, 'NO' AS is_typed, \
     CAST(NULL AS VARCHAR) AS commit_action \
     FROM information_schema.tables t";

/// The views among the tables (DataFusion lists every table, with no definition for a base table).
const VIEWS: &str = "SELECT v.table_catalog, v.table_schema, v.table_name, v.definition AS view_definition, \
     'NONE' AS check_option, 'NO' AS is_updatable, 'NO' AS is_insertable_into, \
     'NO' AS is_trigger_updatable, 'NO' AS is_trigger_deletable, 'NO' AS is_trigger_insertable_into \
     FROM information_schema.views v JOIN information_schema.tables t \
     ON v.table_catalog = t.table_catalog AND v.table_schema = t.table_schema AND v.table_name = t.table_name \
     WHERE t.table_type = 'VIEW'";

/// The constraint tables: the warehouse declares no keys, unique or foreign keys and no checks,
/// so they have PostgreSQL's columns and no rows (Metabase's and Power BI's key lookups find
/// none). PostgreSQL would also list its NOT NULL columns as CHECK constraints; no client asks
/// for those here.
const TABLE_CONSTRAINTS: &str = "constraint_catalog, constraint_schema, constraint_name, table_catalog,      table_schema, table_name, constraint_type, is_deferrable, initially_deferred, enforced, nulls_distinct";
const KEY_COLUMN_USAGE: &str = "constraint_catalog, constraint_schema, constraint_name, table_catalog,      table_schema, table_name, column_name, ordinal_position:INT, position_in_unique_constraint:INT";
const REFERENTIAL_CONSTRAINTS: &str = "constraint_catalog, constraint_schema, constraint_name,      unique_constraint_catalog, unique_constraint_schema, unique_constraint_name, match_option, update_rule,      delete_rule";
const CONSTRAINT_COLUMN_USAGE: &str =
    "table_catalog, table_schema, table_name, column_name, constraint_catalog, constraint_schema, constraint_name";

/// `SELECT CAST(NULL AS type) AS column, ... WHERE false` for `columns` (`name` or `name:TYPE`,
/// VARCHAR when no type is given): a table with those columns and no rows.
fn no_rows(columns: &str) -> String {
    let columns: Vec<String> = columns
        .split(',')
        .map(|column| {
            let (name, sql_type) = column.trim().split_once(':').unwrap_or((column.trim(), "VARCHAR"));
            format!("CAST(NULL AS {sql_type}) AS {name}")
        })
        .collect();
    format!("SELECT {} WHERE false", columns.join(", "))
}

/// The one character set of the server (PostgreSQL's row for a UTF8 database, C collation).
const CHARACTER_SETS: &str = "SELECT CAST(NULL AS VARCHAR) AS character_set_catalog,      CAST(NULL AS VARCHAR) AS character_set_schema, 'UTF8' AS character_set_name,      'UCS' AS character_repertoire, 'UTF8' AS form_of_use, 'zicht' AS default_collate_catalog,      'pg_catalog' AS default_collate_schema, 'C' AS default_collate_name";

/// The query PostgreSQL's `information_schema.<table>` answers with, for the tables rewritten.
fn postgres_query(table: &str) -> Option<String> {
    match table {
        "columns" => Some(columns_query()),
        "tables" => Some(TABLES.to_string()),
        "views" => Some(VIEWS.to_string()),
        "table_constraints" => Some(no_rows(TABLE_CONSTRAINTS)),
        "key_column_usage" => Some(no_rows(KEY_COLUMN_USAGE)),
        "referential_constraints" => Some(no_rows(REFERENTIAL_CONSTRAINTS)),
        "constraint_column_usage" => Some(no_rows(CONSTRAINT_COLUMN_USAGE)),
        "character_sets" => Some(CHARACTER_SETS.to_string()),
        _ => None,
    }
}

/// Replaces the statement's references to information_schema's tables of [`postgres_query`] with
/// PostgreSQL's definitions of them (over DataFusion's).
pub(crate) fn use_postgres_information_schema(statement: &mut DFStatement) {
    match statement {
        DFStatement::Statement(inner) => rewrite(inner),
        DFStatement::Explain(explain) => use_postgres_information_schema(&mut explain.statement),
        _ => {}
    }
}

fn rewrite(statement: &mut Statement) {
    let _ = statement.visit(&mut PostgresInformationSchema);
}

struct PostgresInformationSchema;

impl VisitorMut for PostgresInformationSchema {
    type Break = ();

    /// After the table's children are visited, so that the replacement (which reads DataFusion's
    /// table of the same name) is not visited again.
    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, args: None, .. } = factor else { return ControlFlow::Continue(()) };
        let table = match name_parts(name).as_slice() {
            [.., schema, table] if schema == "information_schema" => table.clone(),
            _ => return ControlFlow::Continue(()),
        };
        let Some(query) = postgres_query(&table) else { return ControlFlow::Continue(()) };
        let alias = alias.clone().unwrap_or(named(&table));
        if let Some(derived) = derived_table(&query, alias) {
            *factor = derived;
        }
        ControlFlow::Continue(())
    }
}

/// A table's name as its parts, identifiers in lower case (as PostgreSQL folds them; quoted
/// ones too, which no catalog name needs to tell apart).
pub fn name_parts(name: &ObjectName) -> Vec<String> {
    let part = |part: &ObjectNamePart| match part {
        ObjectNamePart::Identifier(ident) => ident.value.to_ascii_lowercase(),
        other => other.to_string(),
    };
    name.0.iter().map(part).collect()
}

/// `AS name`, the name a table read without an alias is known by.
fn named(name: &str) -> TableAlias {
    TableAlias { explicit: true, name: Ident::new(name), columns: vec![], at: None }
}

/// `(query) AS alias` as a table factor.
fn derived_table(query: &str, alias: TableAlias) -> Option<TableFactor> {
    let parsed = Parser::new(&PostgreSqlDialect {}).try_with_sql(query).ok()?.parse_query().ok()?;
    let SetExpr::Select(_) = parsed.body.as_ref() else { return None };
    Some(TableFactor::Derived { lateral: false, subquery: parsed, alias: Some(alias), sample: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        rewrite(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn the_three_tables_are_replaced_wherever_they_are_read() {
        let sql = rewritten(
            "SELECT c.udt_name FROM information_schema.columns c JOIN zicht.information_schema.views \
             ON true WHERE c.table_name IN (SELECT table_name FROM INFORMATION_SCHEMA.TABLES)",
        );
        assert!(sql.contains("AS is_updatable FROM information_schema.columns c) c JOIN"), "{sql}");
        assert!(sql.contains("WHERE t.table_type = 'VIEW') AS views"), "{sql}");
        assert!(sql.contains("commit_action FROM information_schema.tables t) AS tables"), "{sql}");
    }

    #[test]
    fn other_tables_stay() {
        let sql = "SELECT * FROM information_schema.schemata JOIN basis.columns ON true";
        assert_eq!(rewritten(sql), sql);
    }

    #[test]
    fn every_query_parses_as_one_select() {
        let tables = [
            "columns",
            "tables",
            "views",
            "table_constraints",
            "key_column_usage",
            "referential_constraints",
            "constraint_column_usage",
            "character_sets",
        ];
        for table in tables {
            let alias = named(table);
            assert!(derived_table(&postgres_query(table).unwrap(), alias).is_some(), "{table}");
        }
    }
}
