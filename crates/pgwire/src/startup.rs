//! The startup phase: refusals that happen before authentication (connection limit, shutdown,
//! TLS required, unknown database), SCRAM-SHA-256, then the connection's own engine session.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::common::ScalarValue;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_DATABASE, METADATA_USER, PgWireConnectionState, PidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::{Authentication, PasswordMessageFamily};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::connection::{Backend, Connection, QueryControl, SERVER_VERSION};
use crate::error::WireError;
use crate::frames::Reader;
use crate::scram::{self, ScramVerifier, ServerExchange};
use crate::server::Shared;

/// The database name clients connect to.
pub const DATABASE: &str = "zicht";

/// One per connection: it holds that connection's authentication progress.
pub struct Startup {
    shared: Arc<Shared>,
    /// Set when the connection is over the limit: it is told so and closed.
    over_limit: bool,
    control: Arc<QueryControl>,
    state: Mutex<AuthState>,
}

enum AuthState {
    AwaitingPassword,
    AwaitingFinal(Box<ServerExchange>),
    Done,
}

impl Startup {
    pub fn new(shared: Arc<Shared>, over_limit: bool, control: Arc<QueryControl>) -> Startup {
        Startup { shared, over_limit, control, state: Mutex::new(AuthState::AwaitingPassword) }
    }

    fn admission<C: ClientInfo>(&self, client: &C) -> Result<(), WireError> {
        if self.over_limit {
            return Err(WireError::TooManyConnections);
        }
        if self.shared.shutdown.is_set() {
            return Err(WireError::ShuttingDown);
        }
        if self.shared.tls_required() && !client.is_secure() {
            return Err(WireError::TlsRequired);
        }
        let database = client.metadata().get(METADATA_DATABASE).or_else(|| client.metadata().get(METADATA_USER));
        match database {
            Some(name) if name == DATABASE => Ok(()),
            Some(name) => Err(WireError::UnknownDatabase(name.clone())),
            None => Err(WireError::UnknownDatabase(String::new())),
        }
    }

    fn user<C: ClientInfo>(client: &C) -> String {
        client.metadata().get(METADATA_USER).cloned().unwrap_or_default()
    }

    /// Handles one SASL message; returns the reply and whether authentication is complete.
    fn sasl_step<C: ClientInfo>(
        &self,
        client: &C,
        message: PasswordMessageFamily,
    ) -> Result<(Authentication, bool), WireError> {
        let user = Self::user(client);
        let failed = || WireError::Authentication(user.clone());
        let mut state = self.state.lock().expect("auth state lock");
        match std::mem::replace(&mut *state, AuthState::Done) {
            AuthState::AwaitingPassword => {
                let (method, data) = sasl_initial_response(&message)?;
                if !scram::is_supported(&method) {
                    return Err(failed());
                }
                let data = data.ok_or_else(failed)?;
                let client_first = std::str::from_utf8(data).map_err(|_| failed())?;
                // An unknown user gets an exchange no password completes: the answer looks the same.
                let verifier = self.shared.config.verifier(&user).cloned().unwrap_or_else(ScramVerifier::impossible);
                let (exchange, server_first) = ServerExchange::start(client_first, verifier).map_err(|_| failed())?;
                *state = AuthState::AwaitingFinal(Box::new(exchange));
                Ok((Authentication::SASLContinue(server_first.into_bytes().into()), false))
            }
            AuthState::AwaitingFinal(exchange) => {
                let response = message.into_sasl_response().map_err(|_| failed())?;
                let client_final = std::str::from_utf8(&response.data).map_err(|_| failed())?;
                let server_final = exchange.finish(client_final).map_err(|_| failed())?;
                Ok((Authentication::SASLFinal(server_final.into_bytes().into()), true))
            }
            AuthState::Done => Err(WireError::Protocol("unexpected authentication message".into())),
        }
    }

    /// Opens the connection's session, registers it for cancel requests and sends the
    /// parameters, the cancel key and ReadyForQuery.
    async fn admit<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let user = Self::user(client);
        let (pid, key) = self.shared.pid_keys.generate(client);
        client.set_pid_and_secret_key(pid, key.clone());
        let session = self.shared.engine.session_at(&user, self.shared.config.access_level(&user));
        session.register_constant_function("pg_backend_pid", ScalarValue::Int32(Some(pid)));
        for function in crate::backends::functions(&self.shared.cancels, &user) {
            session.register_function(function);
        }
        let activity = crate::pg_stat_activity::PgStatActivity::new(Arc::clone(&self.shared.cancels), &user, pid);
        session.register_table_function(crate::pg_stat_activity::FUNCTION, Arc::new(activity));
        session.register_table_function(crate::pg_roles::FUNCTION, Arc::new(crate::pg_roles::PgRoles::new(&user)));
        let connection =
            Connection::new(session, &user, Arc::clone(&self.control), self.shared.config.statement_timeout);
        let backend = Backend {
            user: user.clone(),
            application_name: client.metadata().get("application_name").cloned().unwrap_or_default(),
            client: client.socket_addr(),
            started: std::time::SystemTime::now(),
        };
        let registration = self.shared.cancels.register(pid, &key, backend, Arc::clone(&self.control));
        client.session_extensions().insert(registration);
        client.session_extensions().insert(connection);
        finish_authentication(client, &parameters()).await
    }
}

fn parameters() -> DefaultServerParameterProvider {
    let mut parameters = DefaultServerParameterProvider::default();
    parameters.server_version = SERVER_VERSION.to_string();
    parameters.is_superuser = false;
    parameters.default_transaction_read_only = true;
    parameters
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                self.admission(client)?;
                if !self.shared.config.requires_password() {
                    return self.admit(client).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::SASL(scram::mechanisms()))).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let (reply, done) = self.sasl_step(client, message)?;
                client.send(PgWireBackendMessage::Authentication(reply)).await?;
                if done {
                    self.admit(client).await?;
                }
            }
            // PostgreSQL answers anything else during authentication with FATAL 08P01 (pgwire
            // ignored it, and the client waited for a reply until the login deadline).
            other => return Err(WireError::UnexpectedMessage(message_name(&other)).into()),
        }
        Ok(())
    }
}

/// The mechanism and the data of a SASLInitialResponse, read with every length checked (pgwire's
/// own decoder panics on a message cut short).
fn sasl_initial_response(message: &PasswordMessageFamily) -> Result<(String, Option<&[u8]>), WireError> {
    let invalid = || WireError::UnexpectedMessage("a malformed SASLInitialResponse".into());
    let PasswordMessageFamily::Raw(body) = message else { return Err(invalid()) };
    let mut reader = Reader::new(body);
    let method = String::from_utf8_lossy(reader.cstring().map_err(|_| invalid())?).into_owned();
    let length = reader.i32().map_err(|_| invalid())?;
    let data = reader.remaining_bytes();
    match usize::try_from(length) {
        Err(_) if length == -1 && data.is_empty() => Ok((method, None)),
        Ok(length) if length == data.len() => Ok((method, Some(data))),
        _ => Err(invalid()),
    }
}

fn message_name(message: &PgWireFrontendMessage) -> String {
    let debug = format!("{message:?}");
    let name = debug.split(['(', ' ', '{']).next().unwrap_or("message");
    format!("{name} during authentication")
}
