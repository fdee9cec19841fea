//! What PostgreSQL clients expect to find besides the warehouse's own schemas: `pg_catalog`
//! (from datafusion-pg-catalog: enough for psql's `\d` commands, SQLAlchemy's inspector, pgjdbc's
//! DatabaseMetaData and Npgsql's type loading) and a PostgreSQL-style `version()`.
//!
//! `pg_class.reltuples` is 0 for every table (datafusion-pg-catalog keeps no statistics), so the
//! catalog never reveals how many rows a protected table has.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use zicht_engine::Engine;

use crate::connection::SERVER_VERSION;
use crate::pg_catalog_schema::PgCatalogSchema;
use crate::pg_description::{Description, warehouse_descriptions};
use crate::pg_proc::{OwnFunction, own_functions};
use crate::startup::DATABASE;

pub fn install(engine: Engine) -> zicht_engine::Result<Engine> {
    let functions: Arc<[OwnFunction]> = own_functions().into();
    let descriptions: Arc<[Description]> = warehouse_descriptions(&engine, &functions).into();
    engine.extend(move |ctx: &SessionContext| {
        datafusion_pg_catalog::setup_pg_catalog(ctx, DATABASE, EmptyContextProvider).map_err(|e| *e)?;
        if let Some(catalog) = ctx.catalog(DATABASE)
            && let Some(pg_catalog) = catalog.schema("pg_catalog")
        {
            let as_postgres = PgCatalogSchema::new(pg_catalog, Arc::clone(&descriptions), Arc::clone(&functions));
            catalog.register_schema("pg_catalog", Arc::new(as_postgres))?;
        }
        ctx.register_udf(crate::pg_vectors::expand_array_udf());
        ctx.register_udf(crate::oid_arrays::oid_array_udf());
        ctx.register_udf(crate::any_lookups::rows_in_list_udf());
        for function in crate::type_names::functions() {
            ctx.register_udf(function);
        }
        ctx.register_udf(version_udf());
        for kind in ["function", "type", "collation", "opclass", "opfamily", "operator", "conversion"] {
            ctx.register_udf(always_visible_udf(&format!("pg_{kind}_is_visible")));
        }
        ctx.register_udf(null_text_udf("pg_get_serial_sequence", vec![DataType::Utf8, DataType::Utf8]));
        ctx.register_udf(null_text_udf("pg_advisory_unlock_all", vec![]));
        ctx.register_udf(null_text_udf("pg_get_function_sqlbody", vec![DataType::Int64]));
        ctx.register_udf(to_regtype_udf());
        ctx.register_udf(quote_literal_udf());
        ctx.register_udf(crate::json_build_object::json_build_object_udf());
        ctx.register_udf(crate::format::format_udf());
        ctx.register_udf(crate::reg_cast::existing_oid_udf());
        for function in crate::privileges::functions().into_iter().chain(crate::sizes::functions()) {
            ctx.register_udf(function);
        }
        Ok(())
    })
}

/// `version()` as PostgreSQL words it, which client libraries parse for the server version.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (Zicht {}) on {}-unknown-linux-gnu, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

fn version_udf() -> ScalarUDF {
    constant_udf("version", vec![], ScalarValue::Utf8(Some(version_string())))
}

/// psql's `\df`, `\dT` and `\dd` (and SQLAlchemy's `get_columns`, for collations) filter with these;
/// every object of this database is on the search path or qualified, so the answer is always true.
fn always_visible_udf(name: &str) -> ScalarUDF {
    constant_udf(name, vec![DataType::Int64], ScalarValue::Boolean(Some(true)))
}

/// Functions whose honest answer here is NULL: no column is backed by a sequence
/// (`pg_get_serial_sequence`, asked by SQLAlchemy's `get_columns`), no session ever holds an
/// advisory lock (`pg_advisory_unlock_all()`, PostgreSQL's void, in asyncpg's reset
/// of a pooled connection), and no function has an SQL-standard body
/// (`pg_get_function_sqlbody`, psql's `\df+`).
fn null_text_udf(name: &str, arguments: Vec<DataType>) -> ScalarUDF {
    constant_udf(name, arguments, ScalarValue::Utf8(None))
}

/// A function of `arguments` that answers `value` whatever they are.
pub(crate) fn constant_udf(name: &str, arguments: Vec<DataType>, value: ScalarValue) -> ScalarUDF {
    let data_type = value.data_type();
    create_udf(
        name,
        arguments,
        data_type,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
    )
}

/// `quote_literal(text)`: the text as an SQL string literal, as PostgreSQL writes it (quotes
/// doubled; with backslashes, an `E'...'` literal with them doubled too). asyncpg builds
/// `copy_from_query` with arguments from it.
fn quote_literal_udf() -> ScalarUDF {
    create_udf(
        "quote_literal",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let texts = text_argument(&arrays[0])?;
            let quoted: StringArray = texts.iter().map(|text| text.map(quote_literal)).collect();
            function_result(args, Arc::new(quoted))
        }),
    )
}

pub(crate) fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') { format!("E'{}'", quoted.replace('\\', "\\\\")) } else { format!("'{quoted}'") }
}

/// `to_regtype(name)`: the oid of a built-in type the warehouse serves, NULL for any other (psycopg
/// asks for `hstore` when SQLAlchemy connects; there is none here).
fn to_regtype_udf() -> ScalarUDF {
    create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = datafusion::arrow::array::AsArray::as_string::<i32>(&arrays[0]);
            let oids: datafusion::arrow::array::Int32Array =
                names.iter().map(|name| name.and_then(builtin_type_oid)).collect();
            Ok(ColumnarValue::Array(Arc::new(oids)))
        }),
    )
}

fn builtin_type_oid(name: &str) -> Option<i32> {
    let name = name.trim().trim_start_matches("pg_catalog.").to_ascii_lowercase();
    let oid = match name.as_str() {
        "bool" | "boolean" => 16,
        "int8" | "bigint" => 20,
        "int2" | "smallint" => 21,
        "int4" | "integer" | "int" => 23,
        "text" => 25,
        "float4" | "real" => 700,
        "float8" | "double precision" => 701,
        "varchar" | "character varying" => 1043,
        "date" => 1082,
        "timestamp" | "timestamp without time zone" => 1114,
        "timestamptz" | "timestamp with time zone" => 1184,
        "numeric" => 1700,
        _ => return None,
    };
    Some(oid)
}

/// A function's argument as text, whatever type the client sent it as.
pub(crate) fn text_argument(array: &ArrayRef) -> datafusion::error::Result<StringArray> {
    let text = cast(array, &DataType::Utf8)?;
    Ok(text.as_string::<i32>().clone())
}

/// A function's result: one value where every argument was one (so that it folds to a
/// constant while planning), otherwise the array.
pub(crate) fn function_result(args: &[ColumnarValue], array: ArrayRef) -> datafusion::error::Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) && array.len() == 1 {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?));
    }
    Ok(ColumnarValue::Array(array))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quote_literal_writes_what_postgresql_reads_back() {
        assert_eq!(super::quote_literal("GM0014"), "'GM0014'");
        assert_eq!(super::quote_literal("'s-Hertogenbosch"), "'''s-Hertogenbosch'");
        assert_eq!(super::quote_literal(r"a\b"), r"E'a\\b'");
    }
}
