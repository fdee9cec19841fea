//! Per-connection state: the engine session, settings, cursors, and the handle a cancel request
//! or a shutdown reaches. One connection's `SET` never touches another's.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use pgwire::messages::startup::SecretKey;
use tokio_util::sync::CancellationToken;
use zicht_engine::Session;

use crate::error::{WireError, WireResult};

/// The PostgreSQL version clients are told; the server speaks its protocol and catalog.
pub const SERVER_VERSION: &str = "16.6";
pub const SERVER_VERSION_NUM: &str = "160006";

/// A connection after authentication.
pub struct Connection {
    pub session: Session,
    pub control: Arc<QueryControl>,
    settings: Mutex<Settings>,
    cursors: Mutex<HashMap<String, Cursor>>,
}

/// An open cursor (`DECLARE ... CURSOR FOR`): the rest of its result, read as `FETCH` asks.
pub struct Cursor {
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    pub batches: BoxStream<'static, WireResult<RecordBatch>>,
    /// Rows of a batch already read from the stream but not yet fetched.
    pub pending: Option<RecordBatch>,
}

impl Connection {
    pub fn new(
        session: Session,
        user: &str,
        control: Arc<QueryControl>,
        default_timeout: Option<Duration>,
    ) -> Connection {
        Connection {
            session,
            control,
            settings: Mutex::new(Settings::new(user, default_timeout)),
            cursors: Mutex::new(HashMap::new()),
        }
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.settings.lock().expect("settings lock").statement_timeout
    }

    pub fn show(&self, name: &str) -> WireResult<String> {
        self.settings.lock().expect("settings lock").show(name)
    }

    pub fn set(&self, name: &str, value: Option<&str>) -> WireResult<()> {
        if let Some(option) = name.strip_prefix("datafusion.") {
            let value = value.ok_or_else(|| WireError::InvalidSetting(name.into(), "DEFAULT".into()))?;
            return self.session.set_option(&format!("datafusion.{option}"), value).map_err(WireError::from);
        }
        self.settings.lock().expect("settings lock").set(name, value)
    }

    pub fn reset(&self, name: Option<&str>) -> WireResult<()> {
        let mut settings = self.settings.lock().expect("settings lock");
        match name {
            Some(name) => settings.set(name, None),
            None => {
                settings.reset_all();
                Ok(())
            }
        }
    }

    /// `DISCARD ALL`: settings back to their defaults and every cursor closed. (pgwire drops the
    /// prepared statements the client holds when it closes them.)
    pub fn discard_all(&self) {
        self.settings.lock().expect("settings lock").reset_all();
        self.cursors.lock().expect("cursor lock").clear();
    }

    pub fn open_cursor(&self, name: &str, cursor: Cursor) -> WireResult<()> {
        let mut cursors = self.cursors.lock().expect("cursor lock");
        if cursors.contains_key(name) {
            return Err(WireError::DuplicateCursor(name.into()));
        }
        cursors.insert(name.to_string(), cursor);
        Ok(())
    }

    /// Takes a cursor out to read from it; [`Connection::return_cursor`] puts it back.
    pub fn take_cursor(&self, name: &str) -> WireResult<Cursor> {
        self.cursors.lock().expect("cursor lock").remove(name).ok_or_else(|| WireError::UnknownCursor(name.into()))
    }

    pub fn return_cursor(&self, name: &str, cursor: Cursor) {
        self.cursors.lock().expect("cursor lock").insert(name.to_string(), cursor);
    }

    pub fn cursor_schema(&self, name: &str) -> WireResult<datafusion::arrow::datatypes::SchemaRef> {
        let cursors = self.cursors.lock().expect("cursor lock");
        cursors.get(name).map(|c| c.schema.clone()).ok_or_else(|| WireError::UnknownCursor(name.into()))
    }

    pub fn close_cursor(&self, name: Option<&str>) -> WireResult<()> {
        let mut cursors = self.cursors.lock().expect("cursor lock");
        match name {
            None => cursors.clear(),
            Some(name) => {
                cursors.remove(name).ok_or_else(|| WireError::UnknownCursor(name.into()))?;
            }
        }
        Ok(())
    }

    /// Cursors live until the end of their transaction (no `WITH HOLD`).
    pub fn end_transaction(&self) {
        self.cursors.lock().expect("cursor lock").clear();
    }
}

/// Connection settings as `SHOW` reports them. Unknown names may be set (client libraries set
/// many PostgreSQL parameters at connect) and are then shown as set; a few are interpreted.
struct Settings {
    values: BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
    statement_timeout: Option<Duration>,
    default_timeout: Option<Duration>,
}

impl Settings {
    fn new(user: &str, default_timeout: Option<Duration>) -> Settings {
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
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("session_authorization".to_string(), user.to_string()), ("statement_timeout".to_string(), timeout)])
        .collect();
        Settings { values: defaults.clone(), defaults, statement_timeout: default_timeout, default_timeout }
    }

    fn show(&self, name: &str) -> WireResult<String> {
        let key = normalize(name);
        self.values.get(&key).cloned().ok_or(WireError::UnknownSetting(key))
    }

    fn set(&mut self, name: &str, value: Option<&str>) -> WireResult<()> {
        let key = normalize(name);
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err(WireError::UnknownSetting(key));
        }
        const READ_ONLY: [&str; 5] =
            ["server_version", "server_version_num", "server_encoding", "is_superuser", "session_authorization"];
        if READ_ONLY.contains(&key.as_str()) {
            return Err(WireError::InvalidSetting(key, value.unwrap_or("DEFAULT").to_string()));
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

    fn reset_all(&mut self) {
        self.values = self.defaults.clone();
        self.statement_timeout = self.default_timeout;
    }
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

/// What a cancel request reaches: the current statement's token.
#[derive(Default)]
pub struct QueryControl {
    token: Mutex<CancellationToken>,
}

impl QueryControl {
    /// A fresh token for the statement about to run; cancels reach only this statement.
    pub fn start_statement(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *self.token.lock().expect("token lock") = token.clone();
        token
    }

    pub fn cancel(&self) {
        self.token.lock().expect("token lock").cancel();
    }
}

/// A connection's cancel key: its process id and secret, as sent in `BackendKeyData`.
type CancelKey = (i32, Vec<u8>);

/// Connections by their cancel key, for cancel requests that arrive on a new connection.
#[derive(Default)]
pub struct CancelRegistry {
    connections: RwLock<HashMap<CancelKey, Arc<QueryControl>>>,
}

impl CancelRegistry {
    pub fn register(self: &Arc<Self>, pid: i32, key: &SecretKey, control: Arc<QueryControl>) -> Registration {
        let id = (pid, key.to_bytes().to_vec());
        self.connections.write().expect("registry lock").insert(id.clone(), control);
        Registration { registry: Arc::clone(self), id }
    }

    pub fn cancel(&self, pid: i32, key: &SecretKey) {
        let id = (pid, key.to_bytes().to_vec());
        if let Some(control) = self.connections.read().expect("registry lock").get(&id) {
            control.cancel();
        }
    }
}

/// Removes the connection from the registry when the connection ends.
pub struct Registration {
    registry: Arc<CancelRegistry>,
    id: CancelKey,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.connections.write().expect("registry lock").remove(&self.id);
    }
}

/// Set once when the server begins to shut down.
#[derive(Default)]
pub struct ShutdownFlag(AtomicBool);

impl ShutdownFlag {
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
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
        settings.reset_all();
        assert_eq!(settings.statement_timeout, None);
        assert_eq!(settings.show("application_name").unwrap(), "");
        assert!(matches!(settings.show("no_such_thing"), Err(WireError::UnknownSetting(_))));
    }
}
