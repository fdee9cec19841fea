//! The one error of the suppression layer: a query it refuses, naming the rule.

use datafusion::error::DataFusionError;

/// A refused query. `rule` is a short stable name (documented in docs/suppression.md) and the
/// message says in plain words what to change. Messages never contain data values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} [rule: {rule}]")]
pub struct SuppressionError {
    pub rule: &'static str,
    pub message: String,
}

impl SuppressionError {
    pub fn rejected(rule: &'static str, message: impl Into<String>) -> SuppressionError {
        SuppressionError { rule, message: message.into() }
    }
}

impl From<SuppressionError> for DataFusionError {
    fn from(error: SuppressionError) -> DataFusionError {
        DataFusionError::External(Box::new(error))
    }
}

/// Shorthand for returning a refusal from DataFusion-typed code.
pub(crate) fn reject<T>(rule: &'static str, message: impl Into<String>) -> datafusion::error::Result<T> {
    Err(SuppressionError::rejected(rule, message).into())
}
