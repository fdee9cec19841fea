//! `pg_catalog.pg_stat_activity` as a connection sees it: a row for each open connection of its
//! own user, with PostgreSQL 15's columns. Superset stops a query with `SELECT
//! pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = '...'`; DBeaver's session manager
//! and pgAdmin's dashboard list the rows.
//!
//! Other users' connections are not listed at all (PostgreSQL lists them with their details
//! hidden): who else works on the warehouse, from where and since when is not this user's to
//! know. The asking connection is `active`, running this statement; what the user's other
//! connections are doing is not tracked, so their `state` and `query` are NULL, as are the
//! columns this server has no notion of (transaction ids, wait events, query ids).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;

use crate::connection::{Backend, CancelRegistry};
use crate::startup::DATABASE;

/// The name of the table function each connection defines.
pub(crate) const FUNCTION: &str = "zicht_pg_stat_activity";

/// `zicht_pg_stat_activity()`: the user's connections as rows of pg_stat_activity.
#[derive(Debug)]
pub(crate) struct PgStatActivity {
    registry: Arc<CancelRegistry>,
    user: String,
    /// The asking connection's process id.
    pid: i32,
}

impl PgStatActivity {
    pub(crate) fn new(registry: Arc<CancelRegistry>, user: &str, pid: i32) -> PgStatActivity {
        PgStatActivity { registry, user: user.to_string(), pid }
    }
}

impl TableFunctionImpl for PgStatActivity {
    fn call_with_args(&self, _args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let batch = activity_batch(&self.registry.backends_of(&self.user), self.pid)?;
        Ok(Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?))
    }
}

/// One row per backend, `asking` the one whose statement reads them.
fn activity_batch(backends: &[(i32, Backend)], asking: i32) -> Result<RecordBatch> {
    let rows = backends.len();
    let text = |value: &dyn Fn(i32, &Backend) -> Option<String>| -> ArrayRef {
        Arc::new(backends.iter().map(|(pid, backend)| value(*pid, backend)).collect::<StringArray>())
    };
    let null_text = || -> ArrayRef { Arc::new(StringArray::new_null(rows)) };
    let null_oid = || -> ArrayRef { Arc::new(Int32Array::new_null(rows)) };
    let null_time = || -> ArrayRef { Arc::new(TimestampMicrosecondArray::new_null(rows).with_timezone("UTC")) };
    let started = backends.iter().map(|(_, backend)| Some(micros_since_epoch(backend.started)));
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("datid", null_oid()),
        ("datname", text(&|_, _| Some(DATABASE.to_string()))),
        ("pid", Arc::new(backends.iter().map(|(pid, _)| Some(*pid)).collect::<Int32Array>())),
        ("leader_pid", null_oid()),
        (
            "usesysid",
            Arc::new(backends.iter().map(|(_, b)| Some(crate::pg_roles::role_oid(&b.user))).collect::<Int32Array>()),
        ),
        ("usename", text(&|_, backend| Some(backend.user.clone()))),
        ("application_name", text(&|_, backend| Some(backend.application_name.clone()))),
        ("client_addr", text(&|_, backend| Some(backend.client.ip().to_string()))),
        ("client_hostname", null_text()),
        (
            "client_port",
            Arc::new(backends.iter().map(|(_, b)| Some(i32::from(b.client.port()))).collect::<Int32Array>()),
        ),
        ("backend_start", Arc::new(started.collect::<TimestampMicrosecondArray>().with_timezone("UTC"))),
        ("xact_start", null_time()),
        ("query_start", null_time()),
        ("state_change", null_time()),
        ("wait_event_type", null_text()),
        ("wait_event", null_text()),
        ("state", text(&|pid, _| (pid == asking).then(|| "active".to_string()))),
        ("backend_xid", null_text()),
        ("backend_xmin", null_text()),
        ("query_id", Arc::new(Int64Array::new_null(rows))),
        ("query", null_text()),
        ("backend_type", text(&|_, _| Some("client backend".to_string()))),
    ];
    crate::connection_tables::batch_of(columns)
}

fn micros_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray};

    use super::*;

    #[test]
    fn the_asking_connection_is_active() {
        let backend = |user: &str| Backend {
            user: user.to_string(),
            application_name: "psql".to_string(),
            client: "127.0.0.1:40000".parse().unwrap(),
            started: UNIX_EPOCH + std::time::Duration::from_secs(1),
        };
        let batch = activity_batch(&[(7, backend("analist")), (9, backend("analist"))], 9).unwrap();
        assert_eq!(batch.num_columns(), 22, "PostgreSQL 15's columns");
        let state = batch.column_by_name("state").unwrap().as_string::<i32>();
        assert_eq!((state.is_null(0), state.value(1)), (true, "active"));
        let start = batch.column_by_name("backend_start").unwrap();
        assert_eq!(start.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>().value(0), 1_000_000);
        let port =
            batch.column_by_name("client_port").unwrap().as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        assert_eq!(port.value(0), 40000);
    }
}
