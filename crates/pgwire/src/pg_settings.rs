//! `pg_catalog.pg_settings` as a connection sees it: one row per setting the server has, with the
//! value `SHOW` gives in this connection now.
//!
//! datafusion-pg-catalog's table has one row (`standard_conforming_strings`). pgjdbc reads
//! `max_index_keys` from it before `getImportedKeys`/`getExportedKeys` and gives up without it;
//! tools read `server_version_num`, `TimeZone` or `search_path` there. A statement's reference to
//! `pg_settings` is replaced with the table function `zicht_pg_settings()`
//! ([`crate::connection_tables`]), which each connection defines over its own settings (so a `SET` shows), and whose rows carry PostgreSQL's columns.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;

use crate::settings::Settings;

/// The name of the table function each connection defines.
pub(crate) const FUNCTION: &str = "zicht_pg_settings";

/// Settings PostgreSQL fixes when it is built, reported as PostgreSQL 16 reports them.
const BUILT_IN: [(&str, &str); 3] = [("max_index_keys", "32"), ("max_function_args", "100"), ("block_size", "8192")];

/// Settings a session cannot change (PostgreSQL's `internal` context).
const INTERNAL: [&str; 8] = [
    "server_version",
    "server_version_num",
    "server_encoding",
    "integer_datetimes",
    "max_identifier_length",
    "max_index_keys",
    "max_function_args",
    "block_size",
];

/// PostgreSQL's spelling of the names it writes in mixed case.
fn display_name(name: &str) -> &str {
    match name {
        "datestyle" => "DateStyle",
        "intervalstyle" => "IntervalStyle",
        "timezone" => "TimeZone",
        other => other,
    }
}

/// `zicht_pg_settings()`: the connection's settings as rows of pg_settings.
#[derive(Debug)]
pub(crate) struct PgSettings {
    settings: Arc<Mutex<Settings>>,
}

impl PgSettings {
    pub(crate) fn new(settings: Arc<Mutex<Settings>>) -> PgSettings {
        PgSettings { settings }
    }
}

impl TableFunctionImpl for PgSettings {
    fn call_with_args(&self, _args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let rows = self.settings.lock().expect("settings lock").all();
        let batch = settings_batch(rows)?;
        Ok(Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?))
    }
}

/// A setting as pg_settings shows it: its name, its value now and its default.
struct Row {
    name: String,
    value: String,
    default: Option<String>,
}

/// One row per (name, value, default) setting, plus the built-in ones, in PostgreSQL's columns.
fn settings_batch(settings: Vec<(String, String, Option<String>)>) -> Result<RecordBatch> {
    let rows: Vec<Row> = settings
        .into_iter()
        // An alias SHOW accepts, not a setting of its own.
        .filter(|(name, _, _)| !name.contains(' '))
        .chain(BUILT_IN.iter().map(|(name, value)| (name.to_string(), value.to_string(), Some(value.to_string()))))
        .map(|(name, value, default)| Row { name, value, default })
        .collect();
    let text = |value: &dyn Fn(&Row) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(value).collect::<StringArray>())
    };
    let none = |_: &Row| None::<String>;
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("name", text(&|row| Some(display_name(&row.name).to_string()))),
        ("setting", text(&|row| Some(row.value.clone()))),
        ("unit", text(&none)),
        ("category", text(&none)),
        ("short_desc", text(&none)),
        ("extra_desc", text(&none)),
        ("context", text(&|row| Some(context(&row.name).to_string()))),
        ("vartype", text(&|row| Some(vartype(&row.value).to_string()))),
        ("source", text(&|row| Some(source(&row.value, row.default.as_deref()).to_string()))),
        ("min_val", text(&none)),
        ("max_val", text(&none)),
        ("enumvals", text(&none)),
        ("boot_val", text(&|row| row.default.clone())),
        ("reset_val", text(&|row| row.default.clone())),
        ("sourcefile", text(&none)),
        ("sourceline", Arc::new(Int32Array::new_null(rows.len()))),
        ("pending_restart", Arc::new(BooleanArray::from(vec![false; rows.len()]))),
    ];
    crate::connection_tables::batch_of(columns)
}

fn context(name: &str) -> &'static str {
    let fixed = INTERNAL.contains(&name) || name == "is_superuser" || name == "session_authorization";
    if fixed { "internal" } else { "user" }
}

fn vartype(value: &str) -> &'static str {
    if matches!(value, "on" | "off") {
        "bool"
    } else if value.parse::<i64>().is_ok() {
        "integer"
    } else {
        "string"
    }
}

fn source(value: &str, default: Option<&str>) -> &'static str {
    if default == Some(value) { "default" } else { "session" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_say_where_a_value_comes_from() {
        let batch = settings_batch(vec![
            ("timezone".into(), "UTC".into(), Some("UTC".into())),
            ("search_path".into(), "basis".into(), Some("public".into())),
            ("transaction isolation level".into(), "read committed".into(), None),
        ])
        .unwrap();
        let text = |column: &str, row: usize| {
            batch.column_by_name(column).unwrap().as_any().downcast_ref::<StringArray>().unwrap().value(row).to_string()
        };
        assert_eq!(batch.num_rows(), 2 + BUILT_IN.len());
        assert_eq!((text("name", 0), text("source", 0)), ("TimeZone".into(), "default".into()));
        assert_eq!(
            (text("name", 1), text("setting", 1), text("source", 1)),
            ("search_path".into(), "basis".into(), "session".into())
        );
        assert_eq!(
            (text("name", 2), text("setting", 2), text("context", 2)),
            ("max_index_keys".into(), "32".into(), "internal".into())
        );
    }
}
