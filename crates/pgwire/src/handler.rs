//! Simple and extended query handling: every statement of a connection goes through here, to
//! the connection's own engine session, and leaves as a stream of encoded rows.

use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::{encode_recordbatch, into_pg_type};
use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::Statement;
use futures::stream::{self, BoxStream};
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler, send_describe_response};
use pgwire::api::results::{DescribePortalResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{Bind, BindComplete, Describe, Execute, TARGET_TYPE_BYTE_PORTAL};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::simplequery::Query;

use zicht_engine::limits::on_planner_stack;

use crate::command::{self, Command};
use crate::connection::{Connection, Cursor};
use crate::copy;
use crate::error::{WireError, WireResult};
use crate::running::{StatementControl, fetch, released_batches, run_query};
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
        let commands = match command::parse_bounded(query, connection.session.limits()).await {
            Ok(commands) => commands,
            Err(error) => {
                audit_failure(&connection, query, &error);
                return Err(pg_error(error));
            }
        };
        for command in commands {
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

/// Whether a query string is `ROLLBACK TO [SAVEPOINT] name`. Decided on the words alone: this runs
/// before the statement's limits are checked, so it must not parse an arbitrary text.
fn is_rollback_to_savepoint(sql: &str) -> bool {
    let words: Vec<String> =
        sql.trim().trim_end_matches(';').split_whitespace().take(5).map(str::to_ascii_lowercase).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["rollback", "to", "savepoint", _] | ["rollback", "to", _] => true,
        ["rollback", "work" | "transaction", "to", "savepoint", _] => true,
        ["rollback", "work" | "transaction", "to", name] => *name != "savepoint",
        _ => false,
    }
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
        crate::execute::execute_portal(self, client, message).await
    }

    /// Binds as pgwire does, and remembers the portal by name for `MOVE` (a SQL statement that
    /// names a protocol portal: asyncpg's `Cursor.forward`).
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let portal = Arc::new(Portal::try_new(&message, statement)?);
                if let Ok(connection) = connection(client) {
                    connection.bound_portal(&portal);
                }
                client.portal_store().put_portal(portal);
            }
            Some(Entry::Empty) if message.parameters.is_empty() => {
                client
                    .portal_store()
                    .put_empty_portal(message.portal_name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME));
            }
            Some(Entry::Empty) => {
                let message = format!(
                    "bind message supplies {} parameters, but prepared statement {statement_name:?} requires 0",
                    message.parameters.len()
                );
                return Err(WireError::Protocol(message).into());
            }
            None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        }
        client.send(PgWireBackendMessage::BindComplete(BindComplete::new())).await?;
        Ok(())
    }

    /// Describe of a portal that is a SQL cursor (`DECLARE c CURSOR FOR ...`): PostgreSQL keeps
    /// both in one namespace, and psycopg describes its named cursors so after DECLARE.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
        if message.target_type == TARGET_TYPE_BYTE_PORTAL
            && client.portal_store().get_portal(name).is_none()
            && let Ok(connection) = connection(client)
            && let Ok(schema) = connection.cursor_schema(name)
        {
            let fields = crate::names::pg_fields(&schema, &Format::UnifiedText).map_err(unsupported_type)?;
            return send_describe_response(client, &DescribePortalResponse::new(fields)).await;
        }
        self._on_describe(client, message).await
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
                let result = self.execute_plan(&connection, portal, plan, parameter_types, status, format).await;
                // The engine records what it ran or refused; the rest (parameters, timeouts) here.
                if let Err(error) = &result
                    && !matches!(error, WireError::Engine(_))
                {
                    audit_failure(&connection, &plan.display_indent().to_string(), error);
                }
                result
            }
            Prepared::Command { command, .. } => self.execute(&connection, command.clone(), status, format).await,
        };
        result.map_err(pg_error)
    }
}

impl QueryHandler {
    pub(crate) async fn execute_plan(
        &self,
        connection: &Arc<Connection>,
        portal: &Portal<Prepared>,
        plan: &LogicalPlan,
        parameter_types: &[Option<DataType>],
        status: TransactionStatus,
        format: &Format,
    ) -> WireResult<Response> {
        self.admit_statement(connection, status, false)?;
        let params = crate::parameters::decode_parameters(portal, parameter_types)?;
        let statement = StatementControl::start(connection);
        let released =
            statement.bound(async { Ok(connection.session.execute_with_params(plan.clone(), params).await?) }).await?;
        let (schema, batches) = statement.release(released);
        rows_response(schema, batches, format)
    }

    /// Refuses statements the connection's state does not allow.
    fn admit_statement(
        &self,
        connection: &Connection,
        status: TransactionStatus,
        ends_transaction: bool,
    ) -> WireResult<()> {
        // A connection another of its user's terminated (pg_terminate_backend) ends here, as at
        // a shutdown.
        if self.shared.shutdown.is_set() || connection.control.is_terminated() {
            return Err(WireError::AdminShutdown);
        }
        if matches!(status, TransactionStatus::Error) && !ends_transaction {
            return Err(WireError::TransactionAborted);
        }
        Ok(())
    }

    /// Runs one command, and makes sure the audit log has a line for it: the engine writes the
    /// lines of the queries it plans and runs; every other outcome is written here.
    async fn execute(
        &self,
        connection: &Arc<Connection>,
        command: Command,
        status: TransactionStatus,
        format: &Format,
    ) -> WireResult<Response> {
        let engine_audits = command.statement().is_some();
        let text = command.audit_text();
        let result = self.run_command(connection, command, status, format).await;
        match &result {
            Err(WireError::Engine(_)) if engine_audits => {}
            Err(error) => audit_failure(connection, &text, error),
            Ok(_) if !engine_audits => connection.session.audit_completed(&text),
            Ok(_) => {}
        }
        result
    }

    async fn run_command(
        &self,
        connection: &Arc<Connection>,
        command: Command,
        status: TransactionStatus,
        format: &Format,
    ) -> WireResult<Response> {
        self.admit_statement(connection, status, matches!(command, Command::Commit | Command::Rollback))?;
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
                let statement = StatementControl::start(connection);
                let released = statement
                    .bound(async { Ok(connection.session.execute(plan_query(connection, *query).await?).await?) })
                    .await?;
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
            Command::Move { name, count } => {
                let moved = match connection.portal(&name) {
                    Some(portal) if connection.cursor_schema(&name).is_err() => {
                        crate::execute::move_portal(self, connection, &portal, count, status).await?
                    }
                    _ => {
                        let token = connection.control.start_statement();
                        fetch(connection, &name, count, token, connection.statement_timeout()).await?.num_rows()
                    }
                };
                Response::Execution(Tag::new("MOVE").with_rows(moved))
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
    let fields = Arc::new(crate::names::pg_fields(&schema, format).map_err(unsupported_type)?);
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

/// Plans statements at Parse time, so Describe can answer with parameter and result types.
#[derive(Debug, Default)]
pub struct StatementParser;

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let connection = connection(client)?;
        let mut commands = match command::parse_bounded(sql, connection.session.limits()).await {
            Ok(commands) => commands,
            Err(error) => {
                audit_failure(&connection, sql, &error);
                return Err(error.into());
            }
        };
        let command = match (commands.pop(), commands.is_empty()) {
            (None, _) => return Ok(None),
            (Some(Command::Query(mut statement)), true) => {
                crate::parameters::typed_placeholders(&mut statement, types);
                Command::Query(statement)
            }
            (Some(command), true) => command,
            (Some(_), false) => {
                return Err(WireError::Engine(zicht_engine::EngineError::Syntax(
                    "cannot insert multiple commands into a prepared statement".into(),
                ))
                .into());
            }
        };
        let written_types = command::written_parameter_types(sql).await?;
        Ok(Some(prepare(&connection, command, written_types).await?))
    }

    fn get_parameter_types(&self, statement: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(match statement {
            Prepared::Plan { parameter_types, .. } => parameter_types
                .iter()
                .map(|t| {
                    let oid_array = t.as_ref().and_then(crate::oid_arrays::oid_array_type);
                    oid_array.or_else(|| t.as_ref().and_then(|t| into_pg_type(t).ok())).unwrap_or(Type::UNKNOWN)
                })
                .collect(),
            Prepared::Command { .. } => Vec::new(),
        })
    }

    fn get_result_schema(&self, statement: &Prepared, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        let format = format.cloned().unwrap_or_default();
        match statement {
            Prepared::Plan { plan, .. } => crate::names::pg_fields(plan.schema().as_arrow(), &format),
            Prepared::Command { rows: Some(schema), .. } => crate::names::pg_fields(schema, &format),
            Prepared::Command { rows: None, .. } => Ok(Vec::new()),
        }
    }
}

/// Records a statement the engine did not record itself (see [`QueryHandler::execute`]).
fn audit_failure(connection: &Connection, statement: &str, error: &WireError) {
    match error {
        WireError::Engine(engine) => connection.session.audit_unfinished(statement, engine),
        WireError::Cancelled | WireError::Timeout => {
            connection.session.audit_unfinished(statement, &zicht_engine::EngineError::Cancelled)
        }
        other => {
            let error = zicht_engine::EngineError::Plan { sqlstate: other.sqlstate(), message: other.to_string() };
            connection.session.audit_unfinished(statement, &error)
        }
    }
}

/// Plans a query through the engine (which refuses changes), with PostgreSQL's column names.
/// All of it on the planner stack: cloning and renaming recurse over the statement too.
pub(crate) async fn plan_query(connection: &Arc<Connection>, statement: Statement) -> WireResult<LogicalPlan> {
    connection.apply_search_path()?;
    let connection = Arc::clone(connection);
    on_planner_stack(async move {
        let plan = connection.session.plan_statement(statement.clone()).await?;
        Ok(crate::names::with_postgres_names(&statement, plan))
    })
    .await?
}

/// `written_types`: the parameters cast to a type in the statement as written, when the plain
/// parser reads it (the rewritten statement may have lost some).
async fn prepare(
    connection: &Arc<Connection>,
    command: Command,
    written_types: Option<Vec<(usize, DataType)>>,
) -> WireResult<Prepared> {
    Ok(match command {
        Command::Query(statement) => {
            let cast = written_types.unwrap_or_else(|| crate::parameters::cast_parameter_types(&statement));
            let plan = StatementControl::start(connection).bound(plan_query(connection, *statement)).await?;
            let mut parameter_types = parameter_types(&plan)?;
            for (position, data_type) in cast {
                if let Some(unknown @ None) = parameter_types.get_mut(position) {
                    *unknown = Some(data_type);
                }
            }
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
