//! Errors of the wire server and their SQLSTATE codes. Engine errors keep the code the engine
//! gives them (`EngineError::sqlstate`); this is the one place for the codes only the protocol has.

use pgwire::error::{ErrorInfo, PgWireError};
use zicht_engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("password authentication failed for user \"{0}\"")]
    Authentication(String),
    #[error("no encryption: this server accepts only TLS connections")]
    TlsRequired,
    #[error("database \"{0}\" does not exist")]
    UnknownDatabase(String),
    #[error("sorry, too many clients already")]
    TooManyConnections,
    #[error("the database system is shutting down")]
    ShuttingDown,
    #[error("terminating connection due to administrator command")]
    AdminShutdown,
    #[error("canceling statement due to user request")]
    Cancelled,
    #[error("canceling statement due to statement timeout")]
    Timeout,
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    TransactionAborted,
    #[error("cursor \"{0}\" does not exist")]
    UnknownCursor(String),
    #[error("cursor \"{0}\" already exists")]
    DuplicateCursor(String),
    #[error("prepared statement \"{0}\" does not exist")]
    UnknownStatement(String),
    #[error("unrecognized configuration parameter \"{0}\"")]
    UnknownSetting(String),
    #[error("invalid value for parameter \"{0}\": \"{1}\"")]
    InvalidSetting(String, String),
    /// A parameter PostgreSQL lets only a superuser set (`log_statement`): no user here is one.
    #[error("permission denied to set parameter \"{0}\"")]
    SuperuserSetting(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("invalid parameter: {0}")]
    Parameter(String),
    #[error("{0}")]
    InvalidDatetime(String),
    /// Signalling another role's backend.
    #[error("{0}")]
    NotOwner(String),
    /// An error already in PostgreSQL's form: one a result's rows met while they were skipped
    /// (MOVE), which became an ErrorResponse where the rows are encoded.
    #[error("{}", .0.message)]
    Reported(Box<ErrorInfo>),
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A message the protocol does not allow at this point of the login; ends the connection.
    #[error("invalid frontend message type: {0}")]
    UnexpectedMessage(String),
}

impl WireError {
    pub fn sqlstate(&self) -> &'static str {
        match self {
            WireError::Engine(e) => e.sqlstate(),
            WireError::Authentication(_) => "28P01",
            WireError::TlsRequired => "28000",
            WireError::UnknownDatabase(_) => "3D000",
            WireError::TooManyConnections => "53300",
            WireError::ShuttingDown => "57P03",
            WireError::AdminShutdown => "57P01",
            WireError::Cancelled | WireError::Timeout => "57014",
            WireError::TransactionAborted => "25P02",
            WireError::UnknownCursor(_) => "34000",
            WireError::DuplicateCursor(_) => "42P03",
            WireError::UnknownStatement(_) => "26000",
            WireError::UnknownSetting(_) => "42704",
            WireError::InvalidSetting(..) => "22023",
            WireError::SuperuserSetting(_) => "42501",
            WireError::Unsupported(_) => "0A000",
            WireError::Parameter(_) => "22P02",
            WireError::InvalidDatetime(_) => "22007",
            WireError::NotOwner(_) => "42501",
            // Its own code is in its ErrorInfo; this one is only what the audit log records.
            WireError::Reported(_) => "XX000",
            WireError::Protocol(_) | WireError::UnexpectedMessage(_) => "08P01",
        }
    }

    /// Errors that end the connection (severity FATAL).
    fn is_fatal(&self) -> bool {
        matches!(
            self,
            WireError::Authentication(_)
                | WireError::TlsRequired
                | WireError::UnknownDatabase(_)
                | WireError::TooManyConnections
                | WireError::ShuttingDown
                | WireError::AdminShutdown
                | WireError::UnexpectedMessage(_)
        )
    }

    pub fn into_info(self) -> ErrorInfo {
        if let WireError::Reported(info) = self {
            return *info;
        }
        let severity = if self.is_fatal() { "FATAL" } else { "ERROR" };
        ErrorInfo::new(severity.to_string(), self.sqlstate().to_string(), self.to_string())
    }
}

impl From<PgWireError> for WireError {
    fn from(error: PgWireError) -> WireError {
        match error {
            PgWireError::UserError(info) => WireError::Reported(info),
            other => WireError::Protocol(other.to_string()),
        }
    }
}

impl From<WireError> for PgWireError {
    fn from(error: WireError) -> PgWireError {
        PgWireError::UserError(Box::new(error.into_info()))
    }
}

pub type WireResult<T> = Result<T, WireError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_code_and_wire_errors_have_theirs() {
        let refused = WireError::from(EngineError::NotAllowed("CREATE TABLE is not allowed".into()));
        assert_eq!(refused.into_info().code, "42501");
        let info = WireError::TooManyConnections.into_info();
        assert_eq!((info.severity.as_str(), info.code.as_str()), ("FATAL", "53300"));
        assert_eq!(WireError::Cancelled.into_info().severity, "ERROR");
    }
}
