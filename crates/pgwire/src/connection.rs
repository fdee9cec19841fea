//! Per-connection state: the engine session, settings, cursors, and the handle a cancel request
//! or a shutdown reaches. One connection's `SET` never touches another's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use pgwire::api::portal::Portal;
use pgwire::messages::startup::SecretKey;
use tokio_util::sync::CancellationToken;
use zicht_engine::Session;

use crate::error::{WireError, WireResult};
use crate::handler::Prepared;
use crate::settings::Settings;

/// The PostgreSQL version clients are told; the server speaks its protocol and catalog.
pub const SERVER_VERSION: &str = "16.6";
pub const SERVER_VERSION_NUM: &str = "160006";
/// Where unqualified names resolve while `search_path` names no schema of the warehouse.
const DEFAULT_SCHEMA: &str = "public";

/// A connection after authentication.
pub struct Connection {
    pub session: Session,
    pub control: Arc<QueryControl>,
    /// Shared with the session's `current_setting()` and `set_config()`.
    settings: Arc<Mutex<Settings>>,
    /// The schema unqualified names resolve in, as last taken from `search_path`.
    default_schema: Mutex<String>,
    cursors: Mutex<HashMap<String, Cursor>>,
    /// The protocol's portals (Bind) by name, for `MOVE`, which names one in SQL; the protocol
    /// library owns them (and drops them on Close, Sync and the transaction's end).
    portals: Mutex<HashMap<String, Weak<Portal<Prepared>>>>,
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
        let mut settings = Settings::new(user, default_timeout);
        settings.schemas = session.schema_names();
        let settings = Arc::new(Mutex::new(settings));
        for function in crate::settings::functions(&settings) {
            session.register_function(function);
        }
        let pg_settings = crate::pg_settings::PgSettings::new(Arc::clone(&settings));
        session.register_table_function(crate::pg_settings::FUNCTION, Arc::new(pg_settings));
        Connection {
            session,
            control,
            settings,
            default_schema: Mutex::new(DEFAULT_SCHEMA.to_string()),
            cursors: Mutex::new(HashMap::new()),
            portals: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers a portal the client bound, by its name (see `portals`).
    pub fn bound_portal(&self, portal: &Arc<Portal<Prepared>>) {
        let mut portals = self.portals.lock().expect("portal lock");
        portals.retain(|_, portal| portal.strong_count() > 0);
        portals.insert(portal.name.clone(), Arc::downgrade(portal));
    }

    /// The bound portal of that name the client still has.
    pub fn portal(&self, name: &str) -> Option<Arc<Portal<Prepared>>> {
        self.portals.lock().expect("portal lock").get(name).and_then(Weak::upgrade)
    }

    /// Before a statement is planned: unqualified names resolve in the first schema of
    /// `search_path` that exists (`public` when none does), as `SET search_path` or
    /// `set_config('search_path', ...)` last left it.
    pub fn apply_search_path(&self) -> WireResult<()> {
        let first = self.settings.lock().expect("settings lock").search_path().into_iter().next();
        let schema = first.unwrap_or_else(|| DEFAULT_SCHEMA.into());
        let mut current = self.default_schema.lock().expect("schema lock");
        if *current != schema {
            self.session.set_default_schema(&schema)?;
            *current = schema;
        }
        Ok(())
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

/// What a cancel request reaches: the current statement's token.
#[derive(Default)]
pub struct QueryControl {
    token: Mutex<CancellationToken>,
    /// Set by `pg_terminate_backend`: the connection ends at its next statement (57P01).
    terminated: AtomicBool,
}

impl QueryControl {
    /// Cancels the running statement and ends the connection before the next one.
    pub fn terminate(&self) {
        self.terminated.store(true, Ordering::SeqCst);
        self.cancel();
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::SeqCst)
    }

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

/// Connections by their cancel key, for cancel requests that arrive on a new connection, and by
/// their process id with their user, for `pg_cancel_backend`, `pg_terminate_backend` and
/// `pg_stat_activity`.
#[derive(Default)]
pub struct CancelRegistry {
    connections: RwLock<HashMap<CancelKey, Arc<QueryControl>>>,
    backends: RwLock<HashMap<i32, (Backend, Arc<QueryControl>)>>,
}

impl std::fmt::Debug for CancelRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelRegistry").finish_non_exhaustive()
    }
}

/// A connection as `pg_stat_activity` shows it to its user.
#[derive(Debug, Clone)]
pub struct Backend {
    pub user: String,
    pub application_name: String,
    pub client: std::net::SocketAddr,
    pub started: std::time::SystemTime,
}

/// What `pg_cancel_backend` and `pg_terminate_backend` do to a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Cancel,
    Terminate,
}

impl CancelRegistry {
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        key: &SecretKey,
        backend: Backend,
        control: Arc<QueryControl>,
    ) -> Registration {
        let id = (pid, key.to_bytes().to_vec());
        self.connections.write().expect("registry lock").insert(id.clone(), Arc::clone(&control));
        self.backends.write().expect("registry lock").insert(pid, (backend, control));
        Registration { registry: Arc::clone(self), id }
    }

    /// Signals the backend `pid` on behalf of `user`, as PostgreSQL lets a role signal its own
    /// backends only: false for a process id that is no backend, 42501 for another user's.
    pub fn signal(&self, pid: i32, user: &str, signal: Signal) -> WireResult<bool> {
        let backends = self.backends.read().expect("registry lock");
        let Some((owner, control)) = backends.get(&pid) else { return Ok(false) };
        if owner.user != user {
            let verb = if signal == Signal::Cancel { "canceled" } else { "terminated" };
            return Err(WireError::NotOwner(format!("must be a member of the role whose process is being {verb}")));
        }
        match signal {
            Signal::Cancel => control.cancel(),
            Signal::Terminate => control.terminate(),
        }
        Ok(true)
    }

    /// The open connections of `user`, by process id.
    pub fn backends_of(&self, user: &str) -> Vec<(i32, Backend)> {
        let backends = self.backends.read().expect("registry lock");
        let mut own: Vec<(i32, Backend)> = backends
            .iter()
            .filter(|(_, (backend, _))| backend.user == user)
            .map(|(pid, (b, _))| (*pid, b.clone()))
            .collect();
        own.sort_by_key(|(pid, _)| *pid);
        own
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
        self.registry.backends.write().expect("registry lock").remove(&self.id.0);
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
    fn a_user_signals_only_its_own_backends() {
        let registry = Arc::new(CancelRegistry::default());
        let control = Arc::new(QueryControl::default());
        let backend = Backend {
            user: "analist".into(),
            application_name: String::new(),
            client: "127.0.0.1:5000".parse().unwrap(),
            started: std::time::SystemTime::now(),
        };
        let _registration = registry.register(7, &SecretKey::I32(1), backend, Arc::clone(&control));
        assert_eq!(registry.backends_of("analist").len(), 1);
        assert!(registry.backends_of("iemand_anders").is_empty());
        let error = registry.signal(7, "iemand_anders", Signal::Terminate).unwrap_err();
        assert_eq!(error.into_info().code, "42501");
        assert!(!control.is_terminated());
        assert!(!registry.signal(8, "analist", Signal::Cancel).unwrap());
        assert!(registry.signal(7, "analist", Signal::Terminate).unwrap());
        assert!(control.is_terminated());
    }
}
