//! Simple and extended query handling: every statement of a connection goes through here, to
//! the connection's own engine session, and leaves as a stream of encoded rows.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type};
use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::Statement;
use futures::stream::{self, BoxStream};
use futures::{Sink, StreamExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Execute;
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::simplequery::Query;
use tokio_util::sync::CancellationToken;

use crate::command::{self, Command, FetchCount};
use crate::connection::{Connection, Cursor};
use crate::copy;
use crate::error::{WireError, WireResult};
use crate::server::Shared;

pub struct QueryHandler {
    shared: Arc<Shared>,
    parser: Arc<StatementParser>,
}

impl QueryHandler {
    pub fn new(shared: Arc<Shared>) -> QueryHandler {
        QueryHandler { shared, parser: Arc::new(StatementParser) }
    }
}

/// A statement prepared with Parse: planned once, run with each Bind's parameters.
#[derive(Debug, Clone)]
pub enum Prepared {
    Plan {
        plan: Box<LogicalPlan>,
        parameter_types: Vec<Option<DataType>>,
    },
    /// A session command; `rows` is the shape of what it returns (SHOW, FETCH), if anything.
    Command {
        command: Command,
        rows: Option<SchemaRef>,
    },
}

/// Outside the handlers' generic context, where `From` has several candidates.
fn pg_error(error: WireError) -> PgWireError {
    error.into()
}

fn connection<C: ClientInfo>(client: &C) -> WireResult<Arc<Connection>> {
    client.session_extensions().get::<Connection>().ok_or_else(|| WireError::Protocol("not authenticated".into()))
}

#[async_trait]
impl SimpleQueryHandler for QueryHandler {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if is_rollback_to_savepoint(&query.query) {
            resume_failed_transaction(client);
        }
        self._on_query(client, query).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = connection(client).map_err(pg_error)?;
        let mut status = client.transaction_status();
        let mut responses = Vec::new();
        // Like PostgreSQL, the statements of one message stop at the first error.
        for command in command::parse(query).map_err(pg_error)? {
            let response = self.execute(&connection, command, status, &Format::UnifiedText).await;
            match response {
                Ok(response) => {
                    status = next_status(status, &response);
                    responses.push(response);
                }
                Err(error @ (WireError::AdminShutdown | WireError::ShuttingDown)) => return Err(pg_error(error)),
                Err(error) => {
                    responses.push(Response::Error(Box::new(error.into_info())));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

fn is_rollback_to_savepoint(sql: &str) -> bool {
    matches!(command::parse(sql).as_deref(), Ok([Command::RollbackToSavepoint]))
}

/// `ROLLBACK TO SAVEPOINT` in a failed transaction resumes it, as in PostgreSQL: nothing here
/// changes data, so there is nothing to undo but the failed state itself. (The protocol library
/// reads the status before the handler runs, hence this step before it.)
fn resume_failed_transaction<C: ClientInfo>(client: &mut C) {
    if matches!(client.transaction_status(), TransactionStatus::Error) {
        client.set_transaction_status(TransactionStatus::Transaction);
    }
}

fn next_status(status: TransactionStatus, response: &Response) -> TransactionStatus {
    match response {
        Response::TransactionStart(_) => status.to_in_transaction_state(),
        Response::TransactionEnd(_) => status.to_idle_state(),
        _ => status,
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryHandler {
    type Statement = Prepared;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
        if let Some(Entry::Value(portal)) = client.portal_store().get_portal(name)
            && matches!(portal.statement.statement, Prepared::Command { command: Command::RollbackToSavepoint, .. })
        {
            resume_failed_transaction(client);
        }
        self._on_execute(client, message).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = connection(client).map_err(pg_error)?;
        let status = client.transaction_status();
        let format = &portal.result_column_format;
        let result = match &portal.statement.statement {
            Prepared::Plan { plan, parameter_types } => {
                self.execute_plan(&connection, portal, plan, parameter_types, status, format).await
            }
            Prepared::Command { command, .. } => self.execute(&connection, command.clone(), status, format).await,
        };
        result.map_err(pg_error)
    }
}

impl QueryHandler {
    async fn execute_plan(
        &self,
        connection: &Arc<Connection>,
        portal: &Portal<Prepared>,
        plan: &LogicalPlan,
        parameter_types: &[Option<DataType>],
        status: TransactionStatus,
        format: &Format,
    ) -> WireResult<Response> {
        self.admit_statement(status, false)?;
        let inferred: Vec<Option<&DataType>> = parameter_types.iter().map(Option::as_ref).collect();
        let params = deserialize_parameters(portal, &inferred).map_err(|e| WireError::Parameter(e.to_string()))?;
        let token = connection.control.start_statement();
        let busy = connection.control.busy();
        let released = connection.session.execute_with_params(plan.clone(), params).await?;
        let (schema, batches) = guarded_release(connection, released, token, busy);
        rows_response(schema, batches, format)
    }

    /// Refuses statements the connection's state does not allow.
    fn admit_statement(&self, status: TransactionStatus, ends_transaction: bool) -> WireResult<()> {
        if self.shared.shutdown.is_set() {
            return Err(WireError::AdminShutdown);
        }
        if matches!(status, TransactionStatus::Error) && !ends_transaction {
            return Err(WireError::TransactionAborted);
        }
        Ok(())
    }

    async fn execute(
        &self,
        connection: &Arc<Connection>,
        command: Command,
        status: TransactionStatus,
        format: &Format,
    ) -> WireResult<Response> {
        self.admit_statement(status, matches!(command, Command::Commit | Command::Rollback))?;
        let in_failed_transaction = matches!(status, TransactionStatus::Error);
        Ok(match command {
            Command::Query(statement) => {
                let (schema, batches) = run_query(connection, *statement).await?;
                rows_response(schema, batches, format)?
            }
            Command::Set { name, value } => {
                connection.set(&name, value.as_deref())?;
                Response::Execution(Tag::new("SET"))
            }
            Command::Show(name) => {
                let value = connection.show(&name)?;
                let batch = text_batch(&name, value);
                rows_response(batch.schema(), stream::iter([Ok(batch)]).boxed(), format)?
            }
            Command::Reset(name) => {
                connection.reset(name.as_deref())?;
                Response::Execution(Tag::new("RESET"))
            }
            Command::DiscardAll => {
                connection.discard_all();
                Response::Execution(Tag::new("DISCARD ALL"))
            }
            Command::Begin => Response::TransactionStart(Tag::new("BEGIN")),
            Command::Commit => {
                connection.end_transaction();
                Response::TransactionEnd(Tag::new(if in_failed_transaction { "ROLLBACK" } else { "COMMIT" }))
            }
            Command::Rollback => {
                connection.end_transaction();
                Response::TransactionEnd(Tag::new("ROLLBACK"))
            }
            Command::Declare { name, query } => {
                if !matches!(status, TransactionStatus::Transaction) {
                    return Err(WireError::Unsupported("DECLARE CURSOR can only be used in transaction blocks".into()));
                }
                let plan = plan_query(connection, *query).await?;
                let released = connection.session.execute(plan).await?;
                let schema = released.schema();
                connection.open_cursor(&name, Cursor { schema, batches: released_batches(released), pending: None })?;
                Response::Execution(Tag::new("DECLARE CURSOR"))
            }
            Command::Fetch { name, count } => {
                let token = connection.control.start_statement();
                let batch = fetch(connection, &name, count, token, connection.statement_timeout()).await?;
                let mut response = rows_query_response(batch.schema(), stream::iter([Ok(batch)]).boxed(), format)?;
                response.set_command_tag("FETCH");
                Response::Query(response)
            }
            Command::Close(name) => {
                connection.close_cursor(name.as_deref())?;
                Response::Execution(Tag::new(if name.is_some() { "CLOSE CURSOR" } else { "CLOSE CURSOR ALL" }))
            }
            Command::CopyOut { query, format: copy_format } => {
                let (schema, batches) = run_query(connection, *query).await?;
                Response::CopyOut(copy::copy_out(schema, batches, &copy_format)?)
            }
            Command::Deallocate => Response::Execution(Tag::new("DEALLOCATE")),
            // A failed transaction was resumed before this ran (resume_failed_transaction).
            Command::RollbackToSavepoint => Response::Execution(Tag::new("ROLLBACK")),
            Command::Ignored(tag) => Response::Execution(Tag::new(tag)),
        })
    }
}

/// Drives the engine's stream on its own task, so that the connection's task stays free to notice
/// a cancel request or timeout even while an operator computes for a long time without yielding.
/// Dropping the returned stream aborts that task at its next yield point.
fn released_batches(released: zicht_engine::Released) -> BoxStream<'static, WireResult<RecordBatch>> {
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

/// Ends the stream with 57014 when the statement is cancelled or runs past its timeout; dropping
/// the engine's stream stops the query's work.
fn guarded(
    batches: BoxStream<'static, WireResult<RecordBatch>>,
    token: CancellationToken,
    timeout: Option<Duration>,
    busy: crate::connection::BusyGuard,
) -> BoxStream<'static, WireResult<RecordBatch>> {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    stream::unfold(Some((batches, token, busy)), move |state| async move {
        let (mut batches, token, busy) = state?;
        match next_or_stop(&mut batches, &token, deadline).await {
            Ok(Some(batch)) => Some((Ok(batch), Some((batches, token, busy)))),
            Ok(None) => None,
            Err(error) => Some((Err(error), None)),
        }
    })
    .boxed()
}

fn rows_response(
    schema: SchemaRef,
    batches: BoxStream<'static, WireResult<RecordBatch>>,
    format: &Format,
) -> WireResult<Response> {
    Ok(Response::Query(rows_query_response(schema, batches, format)?))
}

/// Encodes batches to DataRows lazily, in the formats the client asked for: nothing is
/// materialised beyond the batch being sent.
fn rows_query_response(
    schema: SchemaRef,
    batches: BoxStream<'static, WireResult<RecordBatch>>,
    format: &Format,
) -> WireResult<QueryResponse> {
    let fields = Arc::new(arrow_schema_to_pg_fields(&schema, format, None).map_err(unsupported_type)?);
    let encode_with = Arc::clone(&fields);
    let rows = batches.flat_map(move |batch| match batch {
        Ok(batch) => stream::iter(encode_recordbatch(Arc::clone(&encode_with), batch)).left_stream(),
        Err(error) => stream::iter([Err(PgWireError::from(error))]).right_stream(),
    });
    Ok(QueryResponse::new(fields, rows))
}

fn unsupported_type(error: PgWireError) -> WireError {
    WireError::Unsupported(format!("a result column has a type PostgreSQL clients cannot receive: {error}"))
}

fn text_batch(name: &str, value: String) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]));
    let column: ArrayRef = Arc::new(StringArray::from(vec![value]));
    RecordBatch::try_new(schema, vec![column]).expect("one text column")
}

/// Reads up to `count` rows from a cursor, under the FETCH's own cancel token and timeout.
async fn fetch(
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

/// Plans statements at Parse time, so Describe can answer with parameter and result types.
#[derive(Debug, Default)]
pub struct StatementParser;

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let connection = connection(client)?;
        let mut commands = command::parse(sql)?;
        let command = match (commands.pop(), commands.is_empty()) {
            (None, _) => return Ok(None),
            (Some(command), true) => command,
            (Some(_), false) => {
                return Err(WireError::Engine(zicht_engine::EngineError::Syntax(
                    "cannot insert multiple commands into a prepared statement".into(),
                ))
                .into());
            }
        };
        Ok(Some(prepare(&connection, command).await?))
    }

    fn get_parameter_types(&self, statement: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(match statement {
            Prepared::Plan { parameter_types, .. } => parameter_types
                .iter()
                .map(|t| t.as_ref().and_then(|t| into_pg_type(t).ok()).unwrap_or(Type::UNKNOWN))
                .collect(),
            Prepared::Command { .. } => Vec::new(),
        })
    }

    fn get_result_schema(&self, statement: &Prepared, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        let format = format.cloned().unwrap_or_default();
        match statement {
            Prepared::Plan { plan, .. } => arrow_schema_to_pg_fields(plan.schema().as_arrow(), &format, None),
            Prepared::Command { rows: Some(schema), .. } => arrow_schema_to_pg_fields(schema, &format, None),
            Prepared::Command { rows: None, .. } => Ok(Vec::new()),
        }
    }
}

/// Plans and runs a query as the connection's current statement (see [`guarded_release`]). The
/// statement starts before planning, so a cancel that arrives while it plans is not lost.
async fn run_query(
    connection: &Connection,
    statement: Statement,
) -> WireResult<(SchemaRef, BoxStream<'static, WireResult<RecordBatch>>)> {
    let token = connection.control.start_statement();
    let busy = connection.control.busy();
    let plan = plan_query(connection, statement).await?;
    let released = connection.session.execute(plan).await?;
    Ok(guarded_release(connection, released, token, busy))
}

/// The released rows of the connection's current statement: driven on their own task, stopped by
/// a cancel or the connection's statement_timeout, and counted as running until they are done.
fn guarded_release(
    connection: &Connection,
    released: zicht_engine::Released,
    token: CancellationToken,
    busy: crate::connection::BusyGuard,
) -> (SchemaRef, BoxStream<'static, WireResult<RecordBatch>>) {
    let schema = released.schema();
    (schema, guarded(released_batches(released), token, connection.statement_timeout(), busy))
}

/// Plans a query through the engine (which refuses changes), with PostgreSQL's column names.
async fn plan_query(connection: &Connection, statement: Statement) -> WireResult<LogicalPlan> {
    let plan = connection.session.plan_statement(statement.clone()).await?;
    Ok(crate::names::with_postgres_names(&statement, plan))
}

async fn prepare(connection: &Connection, command: Command) -> WireResult<Prepared> {
    Ok(match command {
        Command::Query(statement) => {
            let plan = plan_query(connection, *statement).await?;
            let parameter_types = parameter_types(&plan)?;
            Prepared::Plan { plan: Box::new(plan), parameter_types }
        }
        Command::Show(ref name) => {
            let rows = Some(text_batch(name, String::new()).schema());
            Prepared::Command { command, rows }
        }
        Command::Fetch { ref name, .. } => {
            let rows = Some(connection.cursor_schema(name)?);
            Prepared::Command { command, rows }
        }
        command => Prepared::Command { command, rows: None },
    })
}

/// `$1`, `$2`, ... in order, with the types DataFusion inferred from their use.
fn parameter_types(plan: &LogicalPlan) -> WireResult<Vec<Option<DataType>>> {
    let types = plan.get_parameter_types().map_err(|e| WireError::Parameter(e.to_string()))?;
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .filter_map(|(name, data_type)| name.trim_start_matches('$').parse::<usize>().ok().map(|n| (n, data_type)))
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let count = numbered.last().map_or(0, |(n, _)| *n);
    let mut ordered = vec![None; count];
    for (n, data_type) in numbered {
        if n >= 1 {
            ordered[n - 1] = data_type;
        }
    }
    Ok(ordered)
}
