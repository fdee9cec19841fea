//! Errors of the engine, and the one place where they map to SQLSTATE codes.

use datafusion::error::DataFusionError;
use zicht_suppress::SuppressionError;

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Catalog(#[from] zicht_catalog::CatalogError),
    #[error("data directory {dir}: {message}")]
    Data { dir: String, message: String },
    /// A query the suppression layer refuses; the message names the rule.
    #[error(transparent)]
    Suppression(#[from] SuppressionError),
    #[error("{0}")]
    NotAllowed(String),
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("{message}")]
    Plan { sqlstate: &'static str, message: String },
    /// An execution error in a query that read protected rows. Its detail is withheld, because
    /// an error message can echo a protected value.
    #[error("the query failed while reading protected data (details withheld to protect the data)")]
    ProtectedExecution,
    #[error("{0}")]
    Execution(String),
    #[error("query cancelled")]
    Cancelled,
    #[error("out of memory: {0}")]
    ResourcesExhausted(String),
    #[error(
        "no secret key for the cell-key perturbation: set one (ZICHT_SECRET_KEY, EngineOptions::with_secret_key) or use a key file (zicht_engine::secret::load_or_create)"
    )]
    NoSecret,
}

impl EngineError {
    /// The PostgreSQL SQLSTATE for this error; the wire server and the CLI both use this.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            EngineError::Catalog(_) | EngineError::Data { .. } => "58030",
            EngineError::NoSecret => "F0000",
            EngineError::Suppression(_) | EngineError::NotAllowed(_) => "42501",
            EngineError::Syntax(_) => "42601",
            EngineError::Plan { sqlstate, .. } => sqlstate,
            EngineError::ProtectedExecution | EngineError::Execution(_) => "XX000",
            EngineError::Cancelled => "57014",
            EngineError::ResourcesExhausted(_) => "53200",
        }
    }

    /// Classifies an error from planning (parsing, binding, analysis).
    pub(crate) fn from_planning(error: DataFusionError) -> EngineError {
        if let Some(rejection) = find_suppression_error(&error) {
            return EngineError::Suppression(rejection.clone());
        }
        match error.find_root() {
            DataFusionError::SQL(parser_error, _) => EngineError::Syntax(parser_error.to_string()),
            DataFusionError::ResourcesExhausted(m) => EngineError::ResourcesExhausted(m.clone()),
            root => {
                let message = strip_datafusion_prefix(&root.to_string());
                EngineError::Plan { sqlstate: planning_sqlstate(&message), message }
            }
        }
    }

    /// Classifies an error from execution; `protected` says whether the plan read protected rows.
    pub(crate) fn from_execution(error: DataFusionError, protected: bool) -> EngineError {
        if let Some(rejection) = find_suppression_error(&error) {
            return EngineError::Suppression(rejection.clone());
        }
        match error.find_root() {
            DataFusionError::ResourcesExhausted(m) => EngineError::ResourcesExhausted(m.clone()),
            _ if protected => EngineError::ProtectedExecution,
            root => EngineError::Execution(strip_datafusion_prefix(&root.to_string())),
        }
    }
}

fn find_suppression_error(error: &DataFusionError) -> Option<&SuppressionError> {
    match error {
        DataFusionError::External(e) => e.downcast_ref::<SuppressionError>(),
        DataFusionError::Context(_, inner) => find_suppression_error(inner),
        DataFusionError::Shared(inner) => find_suppression_error(inner),
        DataFusionError::Diagnostic(_, inner) => find_suppression_error(inner),
        DataFusionError::Collection(errors) => errors.iter().find_map(find_suppression_error),
        _ => None,
    }
}

/// Maps DataFusion's planning messages to the SQLSTATE a PostgreSQL client expects.
fn planning_sqlstate(message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    if lower.contains("table") && lower.contains("not found") {
        "42P01"
    } else if lower.contains("schema") && lower.contains("not found")
        || lower.contains("no field named")
        || lower.contains("column") && lower.contains("not found")
    {
        "42703"
    } else if lower.contains("invalid function") || lower.contains("no function matches") {
        "42883"
    } else if lower.contains("not implemented") || lower.contains("unsupported") {
        "0A000"
    } else if lower.contains("cannot be cast") || lower.contains("type") && lower.contains("coerc") {
        "42804"
    } else {
        "42000"
    }
}

fn strip_datafusion_prefix(message: &str) -> String {
    let prefixes =
        ["Error during planning: ", "Schema error: ", "Execution error: ", "This feature is not implemented: "];
    let mut message = message;
    for prefix in prefixes {
        if let Some(rest) = message.strip_prefix(prefix) {
            message = rest;
        }
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tables_map_to_undefined_table() {
        let error = DataFusionError::Plan("table 'zicht.basis.nope' not found".into());
        assert_eq!(EngineError::from_planning(error).sqlstate(), "42P01");
    }

    #[test]
    fn wrapped_suppression_errors_are_found() {
        let rejection = SuppressionError::rejected("row-level", "rows of basis.persoon cannot leave the engine");
        let error = DataFusionError::External(Box::new(rejection)).context("zicht_protect");
        let mapped = EngineError::from_planning(error);
        assert_eq!(mapped.sqlstate(), "42501");
        assert!(mapped.to_string().contains("basis.persoon"));
    }

    #[test]
    fn protected_execution_errors_hide_their_detail() {
        let error = DataFusionError::Execution("Cannot cast string 'Jansen' to Int32".into());
        let mapped = EngineError::from_execution(error, true);
        assert!(!mapped.to_string().contains("Jansen"));
        assert_eq!(mapped.sqlstate(), "XX000");
    }
}
