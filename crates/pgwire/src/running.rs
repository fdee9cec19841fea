//! Running one statement of a connection: its cancel token and deadline over planning and
//! execution ([`StatementControl`]), the released rows driven on a task of their own and stopped
//! by either, and FETCH from a cursor.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use tokio_util::sync::CancellationToken;

use crate::command::FetchCount;
use crate::connection::Connection;
use crate::error::{WireError, WireResult};
use crate::handler::plan_query;

/// Drives the engine's stream on its own task, so that the connection's task stays free to notice
/// a cancel request or timeout even while an operator computes for a long time without yielding.
/// Dropping the returned stream aborts that task at its next yield point.
pub(crate) fn released_batches(released: zicht_engine::Released) -> BoxStream<'static, WireResult<RecordBatch>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    let driver = SpawnedTask::spawn(async move {
        let mut released = released;
        while let Some(batch) = released.next().await {
            if sender.send(batch.map_err(WireError::from)).await.is_err() {
                break;
            }
        }
    });
    stream::unfold((receiver, driver), |(mut receiver, driver)| async move {
        let batch = receiver.recv().await?;
        Some((batch, (receiver, driver)))
    })
    .boxed()
}

/// Ends the stream with 57014 when the statement is cancelled or runs past its deadline (and the
/// statement's audit record says so, through `stop_reason`); dropping the engine's stream stops
/// the query's work.
fn guarded(
    batches: BoxStream<'static, WireResult<RecordBatch>>,
    token: CancellationToken,
    deadline: Option<tokio::time::Instant>,
    stop_reason: zicht_engine::StopReason,
) -> BoxStream<'static, WireResult<RecordBatch>> {
    stream::unfold(Some((batches, token)), move |state| {
        let stop_reason = stop_reason.clone();
        async move {
            let (mut batches, token) = state?;
            match next_or_stop(&mut batches, &token, deadline).await {
                Ok(Some(batch)) => Some((Ok(batch), Some((batches, token)))),
                Ok(None) => None,
                Err(error) => {
                    if matches!(error, WireError::Cancelled | WireError::Timeout) {
                        stop_reason.set("57014");
                    }
                    Some((Err(error), None))
                }
            }
        }
    })
    .boxed()
}

/// Reads up to `count` rows from a cursor, under the FETCH's own cancel token and timeout.
pub(crate) async fn fetch(
    connection: &Connection,
    name: &str,
    count: FetchCount,
    token: CancellationToken,
    timeout: Option<Duration>,
) -> WireResult<RecordBatch> {
    let mut cursor = connection.take_cursor(name)?;
    let wanted = match count {
        FetchCount::Rows(n) => n,
        FetchCount::All => usize::MAX,
    };
    let mut taken: Vec<RecordBatch> = Vec::new();
    let mut rows = 0;
    let result: WireResult<()> = async {
        while rows < wanted {
            let batch = match cursor.pending.take() {
                Some(batch) => batch,
                None => {
                    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
                    let next = next_or_stop(&mut cursor.batches, &token, deadline).await?;
                    match next {
                        Some(batch) => batch,
                        None => break,
                    }
                }
            };
            let room = wanted - rows;
            if batch.num_rows() > room {
                taken.push(batch.slice(0, room));
                cursor.pending = Some(batch.slice(room, batch.num_rows() - room));
                rows += room;
            } else {
                rows += batch.num_rows();
                taken.push(batch);
            }
        }
        Ok(())
    }
    .await;
    let schema = cursor.schema.clone();
    connection.return_cursor(name, cursor);
    result?;
    datafusion::arrow::compute::concat_batches(&schema, &taken).map_err(|e| WireError::Protocol(e.to_string()))
}

/// The next batch, unless the statement is cancelled or its deadline passes first.
async fn next_or_stop(
    batches: &mut BoxStream<'static, WireResult<RecordBatch>>,
    token: &CancellationToken,
    deadline: Option<tokio::time::Instant>,
) -> WireResult<Option<RecordBatch>> {
    let expired = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        _ = token.cancelled() => Err(WireError::Cancelled),
        _ = expired => Err(WireError::Timeout),
        item = batches.next() => item.transpose(),
    }
}

/// Plans and runs a query as the connection's current statement (see [`StatementControl`]).
pub(crate) async fn run_query(
    connection: &Arc<Connection>,
    query: Statement,
) -> WireResult<(SchemaRef, BoxStream<'static, WireResult<RecordBatch>>)> {
    let statement = StatementControl::start(connection);
    let released =
        statement.bound(async { Ok(connection.session.execute(plan_query(connection, query).await?).await?) }).await?;
    Ok(statement.release(released))
}

/// What stops one statement: its cancel token and its deadline (statement_timeout from its start).
/// Both cover all of it, planning included, as in PostgreSQL: the statement starts before it is
/// planned, so a cancel that arrives while it plans is not lost either.
pub(crate) struct StatementControl {
    token: CancellationToken,
    deadline: Option<tokio::time::Instant>,
}

impl StatementControl {
    pub fn start(connection: &Connection) -> StatementControl {
        let token = connection.control.start_statement();
        let deadline = connection.statement_timeout().map(|t| tokio::time::Instant::now() + t);
        StatementControl { token, deadline }
    }

    /// Runs `work` unless the statement is cancelled or its deadline passes first. Planning runs
    /// on a thread of its own (zicht_engine::limits): abandoned here, it finishes there, bounded
    /// by the statement limits, and its result is dropped.
    pub async fn bound<T>(&self, work: impl std::future::Future<Output = WireResult<T>>) -> WireResult<T> {
        let expired = async {
            match self.deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = self.token.cancelled() => Err(WireError::Cancelled),
            _ = expired => Err(WireError::Timeout),
            result = work => result,
        }
    }

    /// The released rows: driven on their own task, stopped by a cancel or the deadline.
    pub fn release(self, released: zicht_engine::Released) -> (SchemaRef, BoxStream<'static, WireResult<RecordBatch>>) {
        let schema = released.schema();
        let stop_reason = released.stop_reason();
        (schema, guarded(released_batches(released), self.token, self.deadline, stop_reason))
    }
}
