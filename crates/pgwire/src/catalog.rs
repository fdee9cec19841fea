//! What PostgreSQL clients expect to find besides the warehouse's own schemas: `pg_catalog`
//! (from datafusion-pg-catalog: enough for psql's `\d` commands, SQLAlchemy's inspector, pgjdbc's
//! DatabaseMetaData and Npgsql's type loading) and a PostgreSQL-style `version()`.
//!
//! `pg_class.reltuples` is 0 for every table (datafusion-pg-catalog keeps no statistics), so the
//! catalog never reveals how many rows a protected table has.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use zicht_engine::Engine;

use crate::connection::SERVER_VERSION;
use crate::startup::DATABASE;

pub fn install(engine: Engine) -> zicht_engine::Result<Engine> {
    engine.extend(|ctx: &SessionContext| {
        datafusion_pg_catalog::setup_pg_catalog(ctx, DATABASE, EmptyContextProvider).map_err(|e| *e)?;
        ctx.register_udf(version_udf());
        ctx.register_udf(always_visible_udf("pg_function_is_visible"));
        ctx.register_udf(always_visible_udf("pg_type_is_visible"));
        ctx.register_udf(empty_text_udf("pg_get_function_result"));
        ctx.register_udf(empty_text_udf("pg_get_function_arguments"));
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
    let version = version_string();
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(version.clone()))))),
    )
}

/// psql's `\df` and `\dT` filter with these; every object of this database is on the search path
/// or qualified, so the answer is always true.
fn always_visible_udf(name: &str) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))),
    )
}

/// Signature texts psql shows in `\df`; the warehouse's own functions are documented in
/// `information_schema.routines` and crates/udf/README.md instead.
fn empty_text_udf(name: &str) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(String::new()))))),
    )
}
