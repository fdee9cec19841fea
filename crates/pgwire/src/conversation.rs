//! One client's conversation with the server, from TLS negotiation to the last message.
//!
//! This replaces pgwire's `process_socket` loop, to give every way a conversation can end a
//! PostgreSQL answer:
//! - every message passes the [`FrameGuard`] before pgwire decodes it; one that breaks the
//!   protocol gets FATAL 08P01 (pgwire closed the socket without a word, or panicked);
//! - logging in has a deadline (`authentication_timeout`), after which the slot is freed;
//! - a panic while decoding or handling a message ends this connection only, with FATAL XX000;
//! - at shutdown, an idle connection gets FATAL 57P01 at once and a busy one when the grace
//!   period ends, before it is closed (pgwire's connections were just dropped).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::{FutureExt, SinkExt, StreamExt};
use pgwire::api::PgWireConnectionState;
use pgwire::api::{ClientInfo, NoopHandler};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{MaybeTls, PgWireMessageServerCodec, negotiate_tls, process_error, process_message};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::{Framed, FramedParts};

use crate::error::WireError;
use crate::frames::{FrameGuard, violation};
use crate::handler::Prepared;
use crate::server::{ConnectionHandlers, Shared};

/// Where the server is in its life, as each connection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Serving,
    /// Shutdown has begun: idle connections end, running statements may finish.
    Stopping,
    /// The grace period is over: every connection ends.
    GraceOver,
}

type Client = Framed<FrameGuard<MaybeTls>, PgWireMessageServerCodec<Prepared>>;

/// Serves one client until it leaves, breaks the protocol, or the server stops.
pub(crate) async fn converse(
    socket: TcpStream,
    shared: Arc<Shared>,
    handlers: ConnectionHandlers,
    stage: watch::Receiver<Stage>,
) {
    let login_deadline = tokio::time::sleep(shared.config.authentication_timeout);
    tokio::pin!(login_deadline);
    let negotiated = tokio::select! {
        _ = &mut login_deadline => return,
        negotiated = negotiate_tls::<Prepared>(socket, shared.tls.clone()) => negotiated,
    };
    // A client that disconnects or speaks TLS directly to a server without it has nothing to hear.
    let Ok(Some(framed)) = negotiated else { return };
    let mut client = guarded(framed, shared.config.max_message_bytes);
    let mut stage = stage;
    loop {
        let logging_in = is_logging_in(&client);
        // At shutdown a logged-in client that is idle is told at once; one still logging in gets
        // its answer from the login (57P03) unless the grace period runs out first.
        let last_stage = if logging_in { Stage::GraceOver } else { Stage::Stopping };
        // Messages already sent are read first: a connection is idle when there is nothing to read
        // (an extended-protocol sequence in flight ends with its Sync, not with 57P01).
        let next = tokio::select! {
            biased;
            _ = &mut login_deadline, if logging_in => return,
            next = AssertUnwindSafe(client.next()).catch_unwind() => next,
            _ = reached(&mut stage, last_stage) => return end(&mut client, WireError::AdminShutdown.into_info()).await,
        };
        let message = match next {
            Ok(Some(Ok(message))) => message,
            Ok(None) => return,
            Ok(Some(Err(error))) => {
                if let Some(info) = decoding_error(error) {
                    end(&mut client, info).await;
                }
                return;
            }
            Err(_panic) => return end(&mut client, protocol_violation("the message could not be decoded")).await,
        };
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            return;
        }
        // pgwire ignores a password message after login; PostgreSQL ends the connection.
        if matches!(message, PgWireFrontendMessage::PasswordMessageFamily(_)) && !logging_in {
            return end(&mut client, protocol_violation("a password message after authentication")).await;
        }
        if !handle(&mut client, message, &handlers, &mut stage).await {
            return;
        }
    }
}

/// Handles one message; false when the conversation is over.
async fn handle(
    client: &mut Client,
    message: PgWireFrontendMessage,
    handlers: &ConnectionHandlers,
    stage: &mut watch::Receiver<Stage>,
) -> bool {
    let extended = match client.state() {
        PgWireConnectionState::CopyInProgress(extended) => extended,
        _ => message.is_extended_query(),
    };
    // A cancel request arrives on a connection of its own, which ends once it is handled.
    let last = matches!(message, PgWireFrontendMessage::CancelRequest(_));
    let outcome = {
        let work = AssertUnwindSafe(process_message(
            message,
            client,
            Arc::clone(&handlers.startup),
            Arc::clone(&handlers.query),
            Arc::clone(&handlers.query),
            Arc::new(NoopHandler),
            Arc::clone(&handlers.cancel),
        ))
        .catch_unwind();
        tokio::select! {
            done = work => Some(done),
            _ = reached(stage, Stage::GraceOver) => None,
        }
    };
    match outcome {
        Some(Ok(Ok(()))) => !last,
        Some(Ok(Err(error))) => {
            let info = ErrorInfo::from(error);
            let fatal = info.is_fatal();
            process_error(client, PgWireError::UserError(Box::new(info)), extended).await.is_ok() && !fatal
        }
        Some(Err(_panic)) => {
            let info =
                ErrorInfo::new("FATAL".into(), "XX000".into(), "internal error; the connection is closed".into());
            end(client, info).await;
            false
        }
        None => {
            end(client, WireError::AdminShutdown.into_info()).await;
            false
        }
    }
}

/// Puts the frame guard between the negotiated socket and pgwire's framing; the bytes the
/// negotiation already read are checked first.
fn guarded(framed: Framed<MaybeTls, PgWireMessageServerCodec<Prepared>>, max_message_bytes: usize) -> Client {
    let parts = framed.into_parts();
    let io = FrameGuard::new(parts.io, max_message_bytes, &parts.read_buf);
    let mut guarded = FramedParts::new(io, parts.codec);
    guarded.write_buf = parts.write_buf;
    Framed::from_parts(guarded)
}

fn is_logging_in(client: &Client) -> bool {
    matches!(client.state(), PgWireConnectionState::AwaitingStartup | PgWireConnectionState::AuthenticationInProgress)
}

/// Completes once the server has reached `stage` (never, if the server is gone).
async fn reached(stage: &mut watch::Receiver<Stage>, wanted: Stage) {
    if stage.wait_for(|now| *now >= wanted).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What to tell a client whose message could not be read: a protocol violation (ours or
/// pgwire's), or nothing when the connection itself broke.
fn decoding_error(error: PgWireError) -> Option<ErrorInfo> {
    match error {
        PgWireError::IoError(io) => violation(&io).map(|v| protocol_violation(&v.0)),
        other => Some(protocol_violation(&other.to_string())),
    }
}

fn protocol_violation(message: &str) -> ErrorInfo {
    ErrorInfo::new("FATAL".into(), "08P01".into(), format!("invalid frontend message: {message}"))
}

/// Sends a last error and closes the connection.
async fn end(client: &mut Client, info: ErrorInfo) {
    let _ = client.send(PgWireBackendMessage::ErrorResponse(info.into())).await;
    let _ = client.close().await;
}
