//! PostgreSQL's size functions, which psql's `\dt+`, `\l+` and `\dv+` and DBeaver's and pgAdmin's
//! table lists call: every size is 0 bytes here. A table's size on disk grows with its rows, so
//! the size of a protected table would tell an analyst how many units it has (and, over time,
//! that one was added); the catalog keeps sizes at 0 as it keeps `reltuples` at 0.
//! `pg_size_pretty` formats a size as PostgreSQL 15 does.
//!
//! A relation is named by its oid, as the catalog's tools do, or by a string, as an analyst does
//! (`pg_total_relation_size('basis.persoon')`): PostgreSQL reads that string as a `regclass`, so
//! an unknown name is 42P01, and here it is cast to one ([`name_size_arguments`]).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value, visit_expressions_mut,
};

use crate::catalog::{constant_udf, function_result};

/// The size functions of a relation, whose argument is a `regclass`.
const RELATION_SIZES: [&str; 4] = ["pg_table_size", "pg_relation_size", "pg_total_relation_size", "pg_indexes_size"];

/// The size functions (each 0) and `pg_size_pretty`.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    let mut functions: Vec<ScalarUDF> = RELATION_SIZES.iter().map(|name| zero_size(name, DataType::Int64)).collect();
    functions.push(zero_size("pg_database_size", DataType::Utf8));
    functions.push(zero_size("pg_tablespace_size", DataType::Utf8));
    functions.push(size_pretty_udf());
    functions
}

/// Casts a string literal argument of a relation's size function to `regclass`, as PostgreSQL
/// reads it (then checked as any such cast, [`crate::reg_cast`]); true when there was one.
pub(crate) fn name_size_arguments(statements: &mut [Statement]) -> bool {
    let mut found = false;
    let mut cast = |expr: &mut Expr| {
        if let Expr::Function(function) = expr
            && zicht_engine::name_parts(&function.name)
                .last()
                .is_some_and(|name| RELATION_SIZES.contains(&name.as_str()))
            && let FunctionArguments::List(list) = &mut function.args
            && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))] = list.args.as_mut_slice()
            && matches!(argument, Expr::Value(value) if matches!(value.value, Value::SingleQuotedString(_)))
        {
            let name = std::mem::replace(argument, Expr::Value(Value::Null.into()));
            *argument = as_regclass(name);
            found = true;
        }
        ControlFlow::<()>::Continue(())
    };
    for statement in statements.iter_mut() {
        let _ = visit_expressions_mut(statement, &mut cast);
    }
    found
}

/// `literal::regclass`, the literal as written (as [`crate::compat::call`] builds a call).
fn as_regclass(literal: Expr) -> Expr {
    let mut cast = crate::compat::parse_expression("NULL::regclass").expect("a cast to regclass parses");
    if let Expr::Cast { expr, .. } = &mut cast {
        **expr = literal;
    }
    cast
}

/// `name(argument)`: 0 bytes, whatever the relation or database.
fn zero_size(name: &str, argument: DataType) -> ScalarUDF {
    constant_udf(name, vec![argument], ScalarValue::Int64(Some(0)))
}

fn size_pretty_udf() -> ScalarUDF {
    create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let sizes = cast(&args[0].to_array(1)?, &DataType::Int64)?;
            let texts: StringArray =
                sizes.as_primitive::<Int64Type>().iter().map(|size| size.map(size_pretty)).collect();
            function_result(args, Arc::new(texts))
        }),
    )
}

/// PostgreSQL 15's `pg_size_pretty(bigint)`: bytes below 10 kB, then the largest unit that keeps
/// the number below 20480 (kB, MB, GB, TB, PB), rounded half away from zero.
fn size_pretty(size: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    const LIMIT_OF_HALVES: i64 = 2 * LIMIT - 1;
    if size.abs() < LIMIT {
        return format!("{size} bytes");
    }
    // Sizes in half units, so that the last step rounds.
    let mut halves = size >> 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if halves.abs() < LIMIT_OF_HALVES {
            return format!("{} {unit}", half_rounded(halves));
        }
        halves >>= 10;
    }
    format!("{} PB", half_rounded(halves))
}

fn half_rounded(halves: i64) -> i64 {
    (halves + if halves < 0 { -1 } else { 1 }) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relation_named_by_a_string_is_a_regclass() {
        use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
        use datafusion::sql::sqlparser::parser::Parser;
        let sql = "SELECT pg_total_relation_size('basis.persoon'), pg_catalog.pg_table_size('o''brien'), \
                   pg_table_size(c.oid), pg_database_size('zicht') FROM pg_class c";
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        assert!(name_size_arguments(&mut statements));
        assert_eq!(
            statements[0].to_string(),
            "SELECT pg_total_relation_size('basis.persoon'::REGCLASS), pg_catalog.pg_table_size('o''brien'::REGCLASS), \
             pg_table_size(c.oid), pg_database_size('zicht') FROM pg_class c"
        );
    }

    /// Answers of PostgreSQL 15.18's `pg_size_pretty`.
    #[test]
    fn sizes_are_worded_as_postgresql_words_them() {
        let cases = [
            (0, "0 bytes"),
            (10239, "10239 bytes"),
            (10240, "10 kB"),
            (-10240, "-10 kB"),
            (20971520, "20 MB"),
            (1536 * 1024 * 1024, "1536 MB"),
            (20479 * 1024, "20 MB"),
            (20480 * 1024, "20 MB"),
            (i64::MAX, "8192 PB"),
        ];
        for (size, text) in cases {
            assert_eq!(size_pretty(size), text, "{size}");
        }
    }
}
