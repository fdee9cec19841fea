//! `pg_cancel_backend(pid)` and `pg_terminate_backend(pid)`, for one's own connections: Superset
//! stops a query with `pg_terminate_backend` of the pid it read with `pg_backend_pid()` at the
//! query's start, other tools cancel with `pg_cancel_backend`.
//!
//! As in PostgreSQL, a user may signal only backends of the same user (another user's gives
//! 42501, so no one can stop someone else's work); a process id that is no backend gives false.
//! Cancel stops the backend's running statement (57014 there); terminate stops it and ends the
//! connection with FATAL 57P01 before its next statement.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::exec_err;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::catalog::function_result;
use crate::connection::{CancelRegistry, Signal};

/// Both functions, for a connection of `user`.
pub(crate) fn functions(registry: &Arc<CancelRegistry>, user: &str) -> [ScalarUDF; 2] {
    [
        signal_udf("pg_cancel_backend", Arc::clone(registry), user, Signal::Cancel),
        signal_udf("pg_terminate_backend", Arc::clone(registry), user, Signal::Terminate),
    ]
}

fn signal_udf(name: &str, registry: Arc<CancelRegistry>, user: &str, signal: Signal) -> ScalarUDF {
    let user = user.to_string();
    create_udf(
        name,
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Volatile,
        Arc::new(move |args: &[ColumnarValue]| {
            let pids = cast(&args[0].to_array(1)?, &DataType::Int64)?;
            let mut signalled = Vec::with_capacity(pids.len());
            for pid in pids.as_primitive::<Int64Type>().iter() {
                // A number beyond a process id's range is no backend.
                match pid.map(|pid| i32::try_from(pid).map_or(Ok(false), |pid| registry.signal(pid, &user, signal))) {
                    None => signalled.push(None),
                    Some(Ok(found)) => signalled.push(Some(found)),
                    Some(Err(error)) => return exec_err!("{error}"),
                }
            }
            function_result(args, Arc::new(BooleanArray::from(signalled)))
        }),
    )
}
