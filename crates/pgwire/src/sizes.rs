//! PostgreSQL's size functions, which psql's `\dt+`, `\l+` and `\dv+` and DBeaver's and pgAdmin's
//! table lists call: every size is 0 bytes here. A table's size on disk grows with its rows, so
//! the size of a protected table would tell an analyst how many units it has (and, over time,
//! that one was added); the catalog keeps sizes at 0 as it keeps `reltuples` at 0.
//! `pg_size_pretty` formats a size as PostgreSQL 15 does.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::scalar::ScalarValue;

use crate::catalog::{constant_udf, function_result};

/// The size functions (each 0) and `pg_size_pretty`.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    let oid_sizes = ["pg_table_size", "pg_relation_size", "pg_total_relation_size", "pg_indexes_size"];
    let mut functions: Vec<ScalarUDF> = oid_sizes.iter().map(|name| zero_size(name, DataType::Int64)).collect();
    functions.push(zero_size("pg_database_size", DataType::Utf8));
    functions.push(zero_size("pg_tablespace_size", DataType::Utf8));
    functions.push(size_pretty_udf());
    functions
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
