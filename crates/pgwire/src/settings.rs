//! A connection's settings: what `SET`, `SHOW`, `RESET` and `DISCARD ALL` change and report, and
//! the SQL functions that read and write them from inside a query (`current_setting()`,
//! `set_config()`, `current_schema()`, `current_schemas()`), as client libraries and BI tools use
//! them: asyncpg's type introspection, Grafana's version check (`server_version_num`), Superset's
//! schema selector (`SET search_path` then `current_schema()`).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListBuilder, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::catalog::{function_result, text_argument};
use crate::connection::{SERVER_VERSION, SERVER_VERSION_NUM};
use crate::error::{WireError, WireResult};

/// Connection settings as `SHOW` reports them. Unknown names may be set (client libraries set
/// many PostgreSQL parameters at connect) and are then shown as set; a few are interpreted.
#[derive(Debug)]
pub(crate) struct Settings {
    values: BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
    pub(crate) statement_timeout: Option<Duration>,
    default_timeout: Option<Duration>,
    /// The warehouse's schemas, which `search_path` chooses among.
    pub(crate) schemas: Vec<String>,
}

impl Settings {
    pub(crate) fn new(user: &str, default_timeout: Option<Duration>) -> Settings {
        let timeout = show_timeout(default_timeout);
        let defaults: BTreeMap<String, String> = [
            ("server_version", SERVER_VERSION),
            ("server_version_num", SERVER_VERSION_NUM),
            ("server_encoding", "UTF8"),
            ("client_encoding", "UTF8"),
            ("datestyle", "ISO, MDY"),
            ("intervalstyle", "postgres"),
            ("timezone", "UTC"),
            ("standard_conforming_strings", "on"),
            ("integer_datetimes", "on"),
            ("application_name", ""),
            ("search_path", "public"),
            ("transaction_isolation", "read committed"),
            ("transaction isolation level", "read committed"),
            ("default_transaction_isolation", "read committed"),
            ("transaction_read_only", "on"),
            ("default_transaction_read_only", "on"),
            ("extra_float_digits", "1"),
            ("max_identifier_length", "63"),
            ("lc_collate", "C"),
            ("lc_ctype", "C"),
            ("lc_messages", "C"),
            ("is_superuser", "off"),
            ("client_min_messages", "notice"),
            ("bytea_output", "hex"),
            // No query is compiled to machine code here (PostgreSQL's default is on). asyncpg
            // turns it off around its type introspection and restores it.
            ("jit", "off"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("session_authorization".to_string(), user.to_string()), ("statement_timeout".to_string(), timeout)])
        .collect();
        Settings {
            values: defaults.clone(),
            defaults,
            statement_timeout: default_timeout,
            default_timeout,
            schemas: Vec::new(),
        }
    }

    pub(crate) fn show(&self, name: &str) -> WireResult<String> {
        let key = normalize(name);
        self.values.get(&key).cloned().ok_or(WireError::UnknownSetting(key))
    }

    pub(crate) fn set(&mut self, name: &str, value: Option<&str>) -> WireResult<()> {
        let key = normalize(name);
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err(WireError::UnknownSetting(key));
        }
        const READ_ONLY: [&str; 5] =
            ["server_version", "server_version_num", "server_encoding", "is_superuser", "session_authorization"];
        if READ_ONLY.contains(&key.as_str()) {
            return Err(WireError::InvalidSetting(key, value.unwrap_or("DEFAULT").to_string()));
        }
        if superuser_only(&key) {
            return Err(WireError::SuperuserSetting(key));
        }
        if key == "statement_timeout" {
            self.statement_timeout = match value {
                None => self.default_timeout,
                Some(text) => parse_timeout(text).ok_or_else(|| WireError::InvalidSetting(key.clone(), text.into()))?,
            };
            self.values.insert(key, show_timeout(self.statement_timeout));
            return Ok(());
        }
        if key == "client_encoding"
            && value.is_some_and(|v| !matches!(v.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8" | "UNICODE"))
        {
            return Err(WireError::InvalidSetting(key, value.unwrap_or_default().into()));
        }
        match value {
            Some(value) => self.values.insert(key, value.to_string()),
            None => match self.defaults.get(&key) {
                Some(default) => self.values.insert(key, default.clone()),
                None => self.values.remove(&key),
            },
        };
        Ok(())
    }

    /// Every setting with its value now and its default (none for a name a client set that the
    /// server does not know), for `pg_settings`.
    pub(crate) fn all(&self) -> Vec<(String, String, Option<String>)> {
        self.values
            .iter()
            .map(|(name, value)| (name.clone(), value.clone(), self.defaults.get(name).cloned()))
            .collect()
    }

    pub(crate) fn reset_all(&mut self) {
        self.values = self.defaults.clone();
        self.statement_timeout = self.default_timeout;
    }

    /// The schemas of `search_path` that exist, in its order (`"$user"` and quotes dropped, as
    /// PostgreSQL skips a schema that does not exist).
    pub(crate) fn search_path(&self) -> Vec<String> {
        let path = self.values.get("search_path").map(String::as_str).unwrap_or_default();
        path.split(',')
            .map(|name| name.trim().trim_matches('"').trim_matches('\'').to_string())
            .filter(|name| !name.is_empty() && self.schemas.contains(name))
            .collect()
    }
}

/// Parameters PostgreSQL lets only a superuser set (its `PGC_SUSET` ones that clients might try):
/// logging, tracking, debugging and a few that change how the server works for everyone.
fn superuser_only(key: &str) -> bool {
    const SUPERUSER: [&str; 10] = [
        "lc_messages",
        "session_preload_libraries",
        "session_replication_role",
        "deadlock_timeout",
        "temp_file_limit",
        "commit_delay",
        "max_stack_depth",
        "zero_damaged_pages",
        "ignore_checksum_failure",
        "compute_query_id",
    ];
    ["log_", "debug_", "track_"].iter().any(|prefix| key.starts_with(prefix)) || SUPERUSER.contains(&key)
}

/// A timeout as PostgreSQL shows it: in the largest unit that divides it (`500ms`, `5s`, `2min`).
fn show_timeout(timeout: Option<Duration>) -> String {
    let Some(millis) = timeout.map(|t| t.as_millis()).filter(|&m| m > 0) else { return "0".into() };
    const UNITS: [(u128, &str); 4] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "min"), (1_000, "s")];
    match UNITS.iter().find(|(size, _)| millis % size == 0) {
        Some((size, unit)) => format!("{}{unit}", millis / size),
        None => format!("{millis}ms"),
    }
}

fn normalize(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "time zone" | "time_zone" => "timezone".to_string(),
        other => other.to_string(),
    }
}

/// PostgreSQL's forms: a number of milliseconds, or a number with a unit (`5s`, `2min`, `1h`).
fn parse_timeout(text: &str) -> Option<Option<Duration>> {
    let text = text.trim();
    let duration = match text.parse::<u64>() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => humantime::parse_duration(&text.replace(' ', "")).ok()?,
    };
    Some((!duration.is_zero()).then_some(duration))
}

/// The SQL functions over a connection's settings, to register in its session.
pub(crate) fn functions(settings: &Arc<Mutex<Settings>>) -> Vec<ScalarUDF> {
    [Function::CurrentSetting, Function::SetConfig, Function::CurrentSchema, Function::CurrentSchemas]
        .into_iter()
        .map(|function| ScalarUDF::new_from_impl(SettingFunction::new(function, Arc::clone(settings))))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Function {
    /// `current_setting(name [, missing_ok])`: the value `SHOW name` gives.
    CurrentSetting,
    /// `set_config(name, value, is_local)`: `SET name = value`, and the value.
    SetConfig,
    /// `current_schema()`: the first schema of `search_path` that exists.
    CurrentSchema,
    /// `current_schemas(include_implicit)`: the schemas of `search_path` that exist, after
    /// `pg_catalog` when asked for the implicit ones.
    CurrentSchemas,
}

/// One of [`Function`], bound to a connection's settings (and the schemas they may name).
#[derive(Debug)]
struct SettingFunction {
    function: Function,
    signature: Signature,
    settings: Arc<Mutex<Settings>>,
}

impl SettingFunction {
    fn new(function: Function, settings: Arc<Mutex<Settings>>) -> SettingFunction {
        let (arities, volatility) = match function {
            Function::CurrentSetting => (vec![1, 2], Volatility::Stable),
            // It changes the connection: evaluated when the row is, never folded while planning.
            Function::SetConfig => (vec![3], Volatility::Volatile),
            Function::CurrentSchema => (vec![0], Volatility::Stable),
            Function::CurrentSchemas => (vec![1], Volatility::Stable),
        };
        let signatures =
            arities.into_iter().map(|n| if n == 0 { TypeSignature::Nullary } else { TypeSignature::Any(n) }).collect();
        SettingFunction { function, signature: Signature::one_of(signatures, volatility), settings }
    }

    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings.lock().expect("settings lock")
    }

    /// `current_setting` and `set_config`, one row at a time over their text arguments.
    fn per_row(&self, args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
        let texts: Vec<StringArray> = args.iter().map(text_argument).collect::<Result<_>>()?;
        let text = |column: usize, row: usize| (!texts[column].is_null(row)).then(|| texts[column].value(row));
        let mut out = StringBuilder::new();
        for row in 0..rows {
            let Some(name) = text(0, row) else {
                out.append_null();
                continue;
            };
            let value = match self.function {
                Function::CurrentSetting => {
                    let missing_ok = texts.len() > 1 && matches!(text(1, row), Some("true" | "t" | "1"));
                    match self.settings().show(name) {
                        Ok(value) => Some(value),
                        Err(_) if missing_ok => None,
                        Err(_) => return exec_err!("unrecognized configuration parameter \"{name}\""),
                    }
                }
                Function::SetConfig => {
                    let value = text(1, row);
                    let mut settings = self.settings();
                    if let Err(error) = settings.set(name, value) {
                        return exec_err!("{error}");
                    }
                    settings.show(name).ok()
                }
                Function::CurrentSchema | Function::CurrentSchemas => unreachable!("no per-row arguments"),
            };
            out.append_option(value);
        }
        Ok(Arc::new(out.finish()))
    }

    fn schemas(&self, include_implicit: bool) -> Vec<String> {
        let implicit = include_implicit.then(|| "pg_catalog".to_string());
        implicit.into_iter().chain(self.settings().search_path()).collect()
    }
}

impl PartialEq for SettingFunction {
    fn eq(&self, other: &Self) -> bool {
        self.function == other.function && Arc::ptr_eq(&self.settings, &other.settings)
    }
}

impl Eq for SettingFunction {}

impl Hash for SettingFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.function.hash(state);
    }
}

impl ScalarUDFImpl for SettingFunction {
    fn name(&self) -> &str {
        match self.function {
            Function::CurrentSetting => "current_setting",
            Function::SetConfig => "set_config",
            Function::CurrentSchema => "current_schema",
            Function::CurrentSchemas => "current_schemas",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.function {
            Function::CurrentSchemas => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let array: ArrayRef = match self.function {
            Function::CurrentSetting | Function::SetConfig => self.per_row(&arrays, rows)?,
            Function::CurrentSchema => {
                let first = self.schemas(false).into_iter().next();
                Arc::new(StringArray::from(vec![first; rows.max(1)]))
            }
            Function::CurrentSchemas => {
                let flags = cast(&arrays[0], &DataType::Boolean)?;
                let flags = flags.as_boolean();
                let mut lists = ListBuilder::new(StringBuilder::new());
                for row in 0..flags.len() {
                    if flags.is_null(row) {
                        lists.append_null();
                        continue;
                    }
                    for schema in self.schemas(flags.value(row)) {
                        lists.values().append_value(schema);
                    }
                    lists.append(true);
                }
                Arc::new(lists.finish())
            }
        };
        function_result(&args.args, array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_set_show_and_reset() {
        let mut settings = Settings::new("analist", None);
        assert_eq!(settings.show("DateStyle").unwrap(), "ISO, MDY");
        settings.set("application_name", Some("psql")).unwrap();
        assert_eq!(settings.show("application_name").unwrap(), "psql");
        settings.set("statement_timeout", Some("5s")).unwrap();
        assert_eq!(settings.statement_timeout, Some(Duration::from_secs(5)));
        assert_eq!(settings.show("statement_timeout").unwrap(), "5s");
        settings.set("statement_timeout", Some("90000")).unwrap();
        assert_eq!(settings.show("statement_timeout").unwrap(), "90s");
        settings.set("statement_timeout", Some("2min")).unwrap();
        assert_eq!(settings.show("statement_timeout").unwrap(), "2min");
        settings.set("statement_timeout", Some("250")).unwrap();
        assert_eq!(settings.statement_timeout, Some(Duration::from_millis(250)));
        assert!(settings.set("statement_timeout", Some("soon")).is_err());
        assert!(settings.set("server_version", Some("9.6")).is_err());
        assert!(settings.set("client_encoding", Some("LATIN1")).is_err());
        assert!(matches!(settings.set("log_statement", Some("none")), Err(WireError::SuperuserSetting(_))));
        settings.reset_all();
        assert_eq!(settings.statement_timeout, None);
        assert_eq!(settings.show("application_name").unwrap(), "");
        assert!(matches!(settings.show("no_such_thing"), Err(WireError::UnknownSetting(_))));
    }

    #[test]
    fn search_path_keeps_the_schemas_that_exist_in_its_order() {
        let mut settings = Settings::new("analist", None);
        settings.schemas = ["public", "regio", "basis"].map(String::from).to_vec();
        assert_eq!(settings.search_path(), ["public"]);
        settings.set("search_path", Some("\"$user\", 'basis', nergens,regio")).unwrap();
        assert_eq!(settings.search_path(), ["basis", "regio"]);
        settings.set("search_path", Some("nergens")).unwrap();
        assert!(settings.search_path().is_empty());
    }
}
