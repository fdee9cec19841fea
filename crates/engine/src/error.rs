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
    /// A value a function or operator cannot take (division by zero, overflow, a string that is
    /// not a number, a date that does not exist): PostgreSQL's class 22.
    #[error("{message}")]
    DataException { sqlstate: &'static str, message: String },
    #[error("query cancelled")]
    Cancelled,
    #[error("out of memory: {0}")]
    ResourcesExhausted(String),
    /// A statement longer than the engine accepts ([`crate::StatementLimits`]).
    #[error("statement too long: {0}")]
    TooLong(String),
    /// A statement with too many tokens or nested too deeply ([`crate::StatementLimits`]).
    #[error("statement too complex: {0}")]
    TooComplex(String),
    #[error(
        "no secret key for the cell-key perturbation: set one (ZICHT_SECRET_KEY, EngineOptions::with_secret_key) or use a key file (zicht_engine::secret::load_or_create)"
    )]
    NoSecret,
    /// A worker of the cluster could not run its part: unreachable, refusing the token, or keyed
    /// with another secret. The message is fixed: it never echoes what the worker said.
    #[error("{0}")]
    Cluster(String),
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
            EngineError::DataException { sqlstate, .. } => sqlstate,
            EngineError::Cancelled => "57014",
            EngineError::ResourcesExhausted(_) => "53200",
            EngineError::TooLong(_) => "54000",
            EngineError::TooComplex(_) => "54001",
            EngineError::Cluster(_) => "58000",
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
            // Constant folding evaluates `1/0` while planning.
            root if data_exception(root).is_some() => data_exception_error(root),
            root => {
                let message = strip_datafusion_prefix(&root.to_string());
                let sqlstate = front_end_sqlstate(&message).unwrap_or_else(|| planning_sqlstate(&message));
                EngineError::Plan { sqlstate, message }
            }
        }
    }

    /// Classifies an error from execution; `protected` says whether the plan read protected rows.
    pub(crate) fn from_execution(error: DataFusionError, protected: bool) -> EngineError {
        if let Some(rejection) = find_suppression_error(&error) {
            return EngineError::Suppression(rejection.clone());
        }
        if let Some(cluster) = crate::cluster::failure(&error) {
            return cluster;
        }
        match error.find_root() {
            DataFusionError::ResourcesExhausted(m) => EngineError::ResourcesExhausted(m.clone()),
            _ if protected => EngineError::ProtectedExecution,
            root if data_exception(root).is_some() => data_exception_error(root),
            root => {
                let message = strip_datafusion_prefix(&root.to_string());
                match front_end_sqlstate(&message) {
                    Some(sqlstate) => EngineError::Plan { sqlstate, message },
                    None => EngineError::Execution(message),
                }
            }
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

fn data_exception_error(root: &DataFusionError) -> EngineError {
    let sqlstate = data_exception(root).unwrap_or("22000");
    EngineError::DataException { sqlstate, message: strip_datafusion_prefix(&root.to_string()) }
}

/// The class-22 SQLSTATE of an error that a value caused, as PostgreSQL gives it; None for
/// anything else.
fn data_exception(root: &DataFusionError) -> Option<&'static str> {
    use datafusion::arrow::error::ArrowError;
    if let DataFusionError::ArrowError(arrow, _) = root {
        match arrow.as_ref() {
            ArrowError::DivideByZero => return Some("22012"),
            ArrowError::ArithmeticOverflow(_) => return Some("22003"),
            ArrowError::CastError(m) | ArrowError::ParseError(m) => return Some(cast_sqlstate(m)),
            _ => {}
        }
    }
    let message = root.to_string().to_ascii_lowercase();
    if message.contains("cannot cast") || message.contains("can't cast") || message.contains("invalid digit") {
        return Some(cast_sqlstate(&message));
    }
    DATA_EXCEPTIONS
        .iter()
        .find(|(needles, _)| needles.iter().any(|needle| message.contains(needle)))
        .map(|(_, sqlstate)| *sqlstate)
}

/// A front end's functions fail with PostgreSQL's messages (the settings functions
/// `current_setting()` and `set_config()`, and oid-alias casts of unknown names); these are their
/// codes, wherever the function is evaluated: how each message starts, and ends.
const FRONT_END_ERRORS: &[(&str, &str, &str)] = &[
    ("unrecognized configuration parameter", "", "42704"),
    ("permission denied to set parameter", "", "42501"),
    ("must be a member of the role whose process is being ", "", "42501"),
    ("invalid value for parameter", "", "22023"),
    ("relation \"", "\" does not exist", "42P01"),
    ("type \"", "\" does not exist", "42704"),
    ("function \"", "\" does not exist", "42883"),
    ("schema \"", "\" does not exist", "3F000"),
];

fn front_end_sqlstate(message: &str) -> Option<&'static str> {
    FRONT_END_ERRORS
        .iter()
        .find(|(start, end, _)| message.starts_with(start) && message.ends_with(end))
        .map(|(_, _, sqlstate)| *sqlstate)
}

/// Fragments of DataFusion's messages for errors caused by a value, in order, with PostgreSQL's
/// code for each.
const DATA_EXCEPTIONS: &[(&[&str], &str)] = &[
    (&["divide by zero", "division by zero"], "22012"),
    (&["requested length too large"], "54000"),
    (&["scalar subquery returned more than one row"], "21000"),
    (&["negative count not allowed"], "22011"),
    (&["square root of a negative", "raised to a negative power", "factorial of a negative"], "2201F"),
    (&["regular expression did not compile", "regex parse error", "invalid regular expression"], "2201B"),
    (&["error parsing timestamp", "unable to parse date", "invalid date", "not a valid date"], "22008"),
    (&["overflow", "out of range", "too large to", "too big", "percentile value must be between"], "22003"),
    (&["cannot parse", "failed to parse"], "22P02"),
    (
        &[
            "date part",
            "date_trunc granularity",
            "invalid unicode scalar value",
            "field position must not be zero",
            "no built-in encoding named",
            "failed to decode value",
            "requested character",
            "must be positive",
            "must be non-negative",
        ],
        "22023",
    ),
];

/// A cast that failed because the value is too large (22003), is not a date (22007) or is not a
/// number at all (22P02).
fn cast_sqlstate(message: &str) -> &'static str {
    let integer_out_of_range = integer_out_of_range(message);
    let message = message.to_ascii_lowercase();
    if message.contains("overflow")
        || message.contains("out of range")
        || message.contains("too large")
        || integer_out_of_range
    {
        "22003"
    } else if message.contains("date") || message.contains("timestamp") || message.contains("time") {
        "22007"
    } else {
        "22P02"
    }
}

/// Arrow's words for a number that does not fit an integer type: "Can't cast value 99999999999 to
/// type Int32" (any number, infinity and NaN included: PostgreSQL's "integer out of range") and
/// "Cannot cast string '99999999999' to value of Int32 type" (a whole number, only too large; a
/// string that is not one is 22P02).
fn integer_out_of_range(message: &str) -> bool {
    let integer = |target: &str| target.starts_with("Int") || target.starts_with("UInt");
    if let Some((_, target)) =
        message.split_once("Can't cast value ").and_then(|(_, rest)| rest.split_once(" to type "))
    {
        return integer(target.trim());
    }
    if let Some((value, target)) =
        message.split_once("Cannot cast string '").and_then(|(_, rest)| rest.split_once("' to value of "))
    {
        let digits = value.trim().trim_start_matches(['+', '-']);
        return integer(target) && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
    }
    false
}

/// Maps DataFusion's planning messages to the SQLSTATE a PostgreSQL client expects.
fn planning_sqlstate(message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    if lower.contains("table") && lower.contains("not found") {
        return "42P01";
    }
    if lower.contains("schema") && lower.contains("not found")
        || lower.contains("no field named")
        || lower.contains("column") && lower.contains("not found")
    {
        return "42703";
    }
    PLANNING_ERRORS
        .iter()
        .find(|(needles, _)| needles.iter().any(|needle| lower.contains(needle)))
        .map_or("42000", |(_, sqlstate)| *sqlstate)
}

/// Fragments of DataFusion's planning messages, in order, with PostgreSQL's code for each.
const PLANNING_ERRORS: &[(&[&str], &str)] = &[
    (&["invalid function", "no function matches"], "42883"),
    (
        &[
            "must appear in the group by clause",
            "must be in group by",
            "aggregate function calls cannot",
            "aggregate functions are not allowed",
            "does not support logical expression aggregatefunction",
        ],
        "42803",
    ),
    (
        &[
            "window function calls cannot be nested",
            "invalid window frame",
            "range requires exactly one order by",
            "does not support logical expression windowfunction",
        ],
        "42P20",
    ),
    (&["is not defined!"], "42704"),
    (&["ambiguous reference"], "42702"),
    (
        &[
            "for select distinct, order by expressions",
            "cannot find column with position",
            "order by column out of bounds",
            "order by index starts at 1",
            "names given as column alias",
        ],
        "42P10",
    ),
    (
        &[
            "the subquery should only return one column",
            "have different number of columns",
            "inconsistent data length across values list",
        ],
        "42601",
    ),
    (&["cannot create filter with non-boolean predicate"], "42804"),
    (&["limit must be >= 0"], "2201W"),
    (&["offset must be >=0", "offset must be >= 0"], "2201X"),
    (&["was not provided a value"], "42P02"),
    (&["step cannot be zero", "step interval cannot be zero"], "22023"),
    (&["invalid escape character in like"], "22025"),
    (&["ntile requires a positive integer"], "22014"),
    (&["duplicate qualified field name"], "42712"),
    (&["not implemented", "unsupported", "not supported"], "0A000"),
    (&["cannot be cast", "coerc"], "42804"),
];

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
    fn unknown_names_of_oid_alias_casts_get_postgresql_codes() {
        let failed = |m: &str| EngineError::from_execution(DataFusionError::Execution(m.into()), false).sqlstate();
        assert_eq!(failed("relation \"nosuch_table\" does not exist"), "42P01");
        assert_eq!(failed("type \"nosuch\" does not exist"), "42704");
        assert_eq!(failed("schema \"nosuch\" does not exist"), "3F000");
        assert_eq!(failed("function \"nosuch\" does not exist"), "42883");
        assert_eq!(failed("relation \"x\" is something else"), "XX000");
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
    fn data_exceptions_get_their_class_22_code() {
        use datafusion::arrow::error::ArrowError;
        let arrow = |e: ArrowError| DataFusionError::ArrowError(Box::new(e), None);
        assert_eq!(EngineError::from_execution(arrow(ArrowError::DivideByZero), false).sqlstate(), "22012");
        assert_eq!(EngineError::from_planning(arrow(ArrowError::DivideByZero)).sqlstate(), "22012");
        let cast = |m: &str| EngineError::from_execution(arrow(ArrowError::CastError(m.into())), false).sqlstate();
        assert_eq!(cast("Cannot cast string 'abc' to value of Int32 type"), "22P02");
        assert_eq!(cast("Cannot cast string '1.5' to value of Int32 type"), "22P02");
        assert_eq!(cast("Cannot cast string '-99999999999' to value of Int32 type"), "22003");
        assert_eq!(cast("Can't cast value 32768 to type Int16"), "22003");
        assert_eq!(cast("Can't cast value NaN to type Int64"), "22003");
        assert_eq!(cast("Cannot cast string '2024-02-30' to value of Date32 type"), "22007");
        let overflow = arrow(ArrowError::ArithmeticOverflow("Overflow happened on: 9223372036854775807 + 1".into()));
        assert_eq!(EngineError::from_execution(overflow, false).sqlstate(), "22003");
        let date = DataFusionError::Execution("Unable to parse date from 2024, 2, 30".into());
        assert_eq!(EngineError::from_execution(date, false).sqlstate(), "22008");
        // Protected rows: neither the detail nor the class.
        assert_eq!(EngineError::from_execution(arrow(ArrowError::DivideByZero), true).sqlstate(), "XX000");
    }

    #[test]
    fn protected_execution_errors_hide_their_detail() {
        let error = DataFusionError::Execution("Cannot cast string 'Jansen' to Int32".into());
        let mapped = EngineError::from_execution(error, true);
        assert!(!mapped.to_string().contains("Jansen"));
        assert_eq!(mapped.sqlstate(), "XX000");
    }
}
