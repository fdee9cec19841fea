//! The Execute message of the extended protocol: runs a portal's statement once, then sends its
//! rows, at most `max_rows` at a time.
//!
//! pgwire's own Execute collects a fetch into a vector allocated with `max_rows` capacity before
//! sending it, so `max_rows = 2147483647` asked for 85 GB and aborted the process, and every fetch
//! held all its rows in memory. Here `max_rows` is a limit, never a capacity: rows stream to the
//! client as they are encoded. As in PostgreSQL, zero or a negative `max_rows` means all rows.

use std::fmt::Debug;

use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::portal::{Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, send_execution_response};
use pgwire::api::results::{QueryResponse, Response, Tag};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, copy};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{Execute, PortalSuspended};
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};

use crate::command::FetchCount;
use crate::error::WireResult;
use crate::handler::{Prepared, QueryHandler};

/// Runs the portal named in `message` (if it has not run yet) and sends its next rows.
pub(crate) async fn execute_portal<C>(handler: &QueryHandler, client: &mut C, message: Execute) -> PgWireResult<()>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = Prepared>,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
        return Err(PgWireError::NotReadyForQuery);
    }
    let mut transaction_status = client.transaction_status();
    client.set_state(PgWireConnectionState::QueryInProgress);
    let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
    let limit = usize::try_from(message.max_rows).ok().filter(|&rows| rows > 0);
    let portal = match client.portal_store().get_portal(name) {
        Some(Entry::Value(portal)) => portal,
        Some(Entry::Empty) => {
            client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
            client.set_state(PgWireConnectionState::ReadyForQuery);
            return Ok(());
        }
        None => return Err(PgWireError::PortalNotFound(name.to_owned())),
    };
    let state = portal.state();
    let mut state = state.lock().await;
    if matches!(*state, PortalExecutionState::Initial) {
        let response = handler.do_query(client, portal.as_ref(), limit.unwrap_or(0)).await?;
        match response {
            Response::Query(rows) => *state = PortalExecutionState::Suspended(rows),
            other => {
                transaction_status = send_other_response(client, other, transaction_status).await?;
                *state = PortalExecutionState::Finished;
                finish(client, transaction_status);
                return Ok(());
            }
        }
    }
    match &mut *state {
        PortalExecutionState::Suspended(rows) => {
            if send_rows(client, rows, limit).await? {
                client.send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new())).await?;
            } else {
                *state = PortalExecutionState::Finished;
            }
        }
        // Executing a portal that has sent all its rows completes it again, with none.
        _ => send_execution_response(client, Tag::new("").with_rows(0)).await?,
    }
    finish(client, transaction_status);
    Ok(())
}

/// `MOVE`: runs the portal (if it has not run yet) and skips up to `count` of its next rows, as
/// Execute would have sent them; returns how many it skipped.
pub(crate) async fn move_portal(
    handler: &QueryHandler,
    connection: &std::sync::Arc<crate::connection::Connection>,
    portal: &Portal<Prepared>,
    count: FetchCount,
    status: TransactionStatus,
) -> WireResult<usize> {
    let state = portal.state();
    let mut state = state.lock().await;
    if matches!(*state, PortalExecutionState::Initial) {
        let Prepared::Plan { plan, parameter_types } = &portal.statement.statement else {
            *state = PortalExecutionState::Finished;
            return Ok(0);
        };
        let format = &portal.result_column_format;
        match handler.execute_plan(connection, portal, plan, parameter_types, status, format).await? {
            Response::Query(rows) => *state = PortalExecutionState::Suspended(rows),
            _ => *state = PortalExecutionState::Finished,
        }
    }
    let PortalExecutionState::Suspended(rows) = &mut *state else { return Ok(0) };
    let wanted = match count {
        FetchCount::Rows(rows) => rows,
        FetchCount::All => usize::MAX,
    };
    let mut moved = 0;
    while moved < wanted {
        match rows.data_rows().next().await {
            Some(row) => {
                row?;
                moved += 1;
            }
            None => {
                *state = PortalExecutionState::Finished;
                break;
            }
        }
    }
    Ok(moved)
}

/// Sends up to `limit` rows; true when the limit was reached (the portal is suspended, and may
/// have more), false when the rows ran out (it is complete, and CommandComplete has been sent).
async fn send_rows<C>(client: &mut C, rows: &mut QueryResponse, limit: Option<usize>) -> PgWireResult<bool>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let mut sent = 0;
    while limit.is_none_or(|limit| sent < limit) {
        match rows.data_rows().next().await {
            Some(row) => {
                client.feed(PgWireBackendMessage::DataRow(row?)).await?;
                sent += 1;
            }
            None => {
                let tag = Tag::new(rows.command_tag()).with_rows(sent);
                client.send(PgWireBackendMessage::CommandComplete(tag.into())).await?;
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Answers a statement that returns no rows, as pgwire's Execute does; returns the transaction
/// status it leaves.
async fn send_other_response<C>(
    client: &mut C,
    response: Response,
    status: pgwire::messages::response::TransactionStatus,
) -> PgWireResult<pgwire::messages::response::TransactionStatus>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = Prepared>,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    Ok(match response {
        Response::Query(_) => status,
        Response::EmptyQuery => {
            client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
            status
        }
        Response::Execution(tag) => {
            send_execution_response(client, tag).await?;
            status
        }
        Response::TransactionStart(tag) => {
            send_execution_response(client, tag).await?;
            status.to_in_transaction_state()
        }
        Response::TransactionEnd(tag) => {
            send_execution_response(client, tag).await?;
            client.portal_store().rm_portal(DEFAULT_NAME);
            status.to_idle_state()
        }
        Response::Error(error) => {
            client.send(PgWireBackendMessage::ErrorResponse((*error).into())).await?;
            status.to_error_state()
        }
        Response::CopyIn(result) => {
            client.set_state(PgWireConnectionState::CopyInProgress(true));
            copy::send_copy_in_response(client, result).await?;
            status
        }
        Response::CopyOut(result) => {
            copy::send_copy_out_response(client, result).await?;
            status
        }
        Response::CopyBoth(result) => {
            client.set_state(PgWireConnectionState::CopyInProgress(true));
            copy::send_copy_both_response(client, result).await?;
            status
        }
    })
}

fn finish<C: ClientInfo>(client: &mut C, status: pgwire::messages::response::TransactionStatus) {
    if !matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
    }
}
