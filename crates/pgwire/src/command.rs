//! What a statement asks of the server: the session and transaction commands PostgreSQL clients
//! send are answered here, per connection; everything else is planned by the engine (which
//! refuses changes and protects results).

use datafusion::sql::sqlparser::ast::{
    CloseCursor, CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, DiscardObject, Expr,
    FetchDirection, Ident, ObjectName, Query, Reset, Set, SetExpr, Statement, TableFactor, TableWithJoins, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use datafusion::arrow::datatypes::DataType;
use zicht_engine::StatementLimits;
use zicht_engine::limits::on_parser_stack;

use crate::error::{WireError, WireResult};

#[derive(Debug, Clone)]
pub enum Command {
    /// Planned and run by the engine.
    Query(Box<Statement>),
    Set {
        name: String,
        value: Option<String>,
    },
    Show(String),
    Reset(Option<String>),
    DiscardAll,
    Begin,
    Commit,
    Rollback,
    Declare {
        name: String,
        query: Box<Statement>,
    },
    Fetch {
        name: String,
        count: FetchCount,
    },
    /// `MOVE`: a FETCH whose rows are skipped, on a SQL cursor or a protocol portal (asyncpg's
    /// `Cursor.forward`).
    Move {
        name: String,
        count: FetchCount,
    },
    Close(Option<String>),
    CopyOut {
        query: Box<Statement>,
        format: CopyFormat,
    },
    Deallocate,
    RollbackToSavepoint,
    /// Accepted and ignored, answered with this tag (`SET TRANSACTION ...` on a read-only warehouse).
    Ignored(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchCount {
    Rows(usize),
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFormat {
    pub csv: bool,
    pub header: bool,
    pub delimiter: Option<char>,
    pub null: Option<String>,
}

impl Command {
    /// What the audit log fingerprints for this command: the statement's text, or the command.
    pub fn audit_text(&self) -> String {
        match self.statement() {
            Some(statement) => statement.to_string(),
            None => format!("{self:?}"),
        }
    }

    /// The SQL statement the engine plans for this command, if any.
    pub fn statement(&self) -> Option<&Statement> {
        match self {
            Command::Query(statement)
            | Command::Declare { query: statement, .. }
            | Command::CopyOut { query: statement, .. } => Some(statement),
            _ => None,
        }
    }
}

/// Parses a query string into commands (see [`crate::compat`] for what it does to the statements).
/// Recurses as deep as the statements nest: call it through [`parse_bounded`].
fn parse(sql: &str) -> WireResult<Vec<Command>> {
    if let Some((fetch, moves)) = cursor_statement(sql) {
        let mut commands: Vec<Command> = parse_commands(&fetch)?;
        if moves && let [Command::Fetch { name, count }] = commands.as_slice() {
            commands = vec![Command::Move { name: name.clone(), count: *count }];
        }
        return Ok(commands);
    }
    parse_commands(sql)
}

fn parse_commands(sql: &str) -> WireResult<Vec<Command>> {
    crate::compat::parse_statements(sql)?.into_iter().map(classify).collect()
}

/// A query string that is one `FETCH` or `MOVE` (true), as a FETCH the SQL parser reads: the two
/// share their grammar and the parser knows only FETCH, and only with `FROM` or `IN` before the
/// cursor's name, which PostgreSQL lets one leave out (asyncpg's `MOVE FORWARD 2 portal`).
fn cursor_statement(sql: &str) -> Option<(String, bool)> {
    let text = sql.trim().trim_end_matches(';');
    if text.contains(';') {
        return None;
    }
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let moves = match words.first()?.to_ascii_lowercase().as_str() {
        "move" => true,
        "fetch" => false,
        _ => return None,
    };
    words[0] = "FETCH";
    let name = words.len().checked_sub(1).filter(|&name| name > 0)?;
    match words[name - 1].to_ascii_lowercase().as_str() {
        "from" | "in" => {}
        // No direction either: the parser needs one, and NEXT is PostgreSQL's default.
        "fetch" => words.insert(name, "NEXT FROM"),
        _ => words.insert(name, "FROM"),
    }
    Some((words.join(" "), moves))
}

/// [`parse`] within the session's limits: the text's size is checked first, then it is parsed,
/// rewritten and measured on the parser stack, where a statement nested too deeply is also
/// dropped (see `zicht_engine::limits`).
pub async fn parse_bounded(sql: &str, limits: StatementLimits) -> WireResult<Vec<Command>> {
    limits.check_text(sql)?;
    zicht_engine::refuse_writing_statements(sql)?;
    let sql = sql.to_string();
    on_parser_stack(move || {
        let commands = parse(&sql)?;
        for statement in commands.iter().filter_map(Command::statement) {
            limits.check_depth(statement)?;
        }
        Ok(commands)
    })
    .await?
}

/// The parameters a statement cast to a type as the client wrote it, for Parse
/// ([`crate::parameters::written_parameter_types`]); on the parser stack, as [`parse_bounded`]
/// parses (call it after that, which has checked the text's size).
pub async fn written_parameter_types(sql: &str) -> WireResult<Option<Vec<(usize, DataType)>>> {
    let sql = sql.to_string();
    Ok(on_parser_stack(move || crate::parameters::written_parameter_types(&sql)).await?)
}

fn classify(statement: Statement) -> WireResult<Command> {
    Ok(match statement {
        Statement::Set(set) => classify_set(set)?,
        Statement::ShowVariable { variable } => Command::Show(join_idents(&variable)),
        Statement::Reset(reset) => match reset.reset {
            Reset::ALL => Command::Reset(None),
            Reset::ConfigurationParameter(name) => Command::Reset(Some(object_name(&name))),
        },
        Statement::Discard { object_type: DiscardObject::ALL } => Command::DiscardAll,
        Statement::Discard { .. } => Command::Ignored("DISCARD"),
        Statement::StartTransaction { statements, .. } if statements.is_empty() => Command::Begin,
        Statement::Commit { .. } => Command::Commit,
        Statement::Rollback { savepoint: None, .. } => Command::Rollback,
        // Nothing here changes data, so a savepoint has nothing to keep: clients (psycopg's nested
        // transactions, psqlODBC's per-statement savepoints) get the answers they expect.
        Statement::Savepoint { .. } => Command::Ignored("SAVEPOINT"),
        Statement::ReleaseSavepoint { .. } => Command::Ignored("RELEASE"),
        Statement::Rollback { savepoint: Some(_), .. } => Command::RollbackToSavepoint,
        Statement::Declare { stmts } => classify_declare(stmts)?,
        Statement::Fetch { name, direction, .. } => Command::Fetch { name: name.value, count: fetch_count(direction)? },
        Statement::Close { cursor: CloseCursor::All } => Command::Close(None),
        Statement::Close { cursor: CloseCursor::Specific { name } } => Command::Close(Some(name.value)),
        Statement::Copy { source, to: true, target: CopyTarget::Stdout, options, legacy_options, .. } => {
            Command::CopyOut {
                query: Box::new(copy_source_query(source)),
                format: copy_format(&options, &legacy_options)?,
            }
        }
        Statement::Copy { .. } => {
            return Err(WireError::Engine(zicht_engine::EngineError::NotAllowed(
                "only COPY (query) TO STDOUT is allowed: the warehouse is read-only".into(),
            )));
        }
        // LISTEN is refused, so no connection listens: UNLISTEN has nothing to undo. Connection
        // pools reset with it (asyncpg: `CLOSE ALL; UNLISTEN *; RESET ALL`).
        Statement::UNLISTEN { .. } => Command::Ignored("UNLISTEN"),
        // Prepared statements live in the protocol (Parse/Close); SQL-level PREPARE is not offered.
        Statement::Deallocate { .. } => Command::Deallocate,
        other => Command::Query(Box::new(other)),
    })
}

fn classify_set(set: Set) -> WireResult<Command> {
    Ok(match set {
        Set::SingleAssignment { variable, values, .. } => {
            Command::Set { name: object_name(&variable), value: setting_value(&values) }
        }
        Set::SetTimeZone { value, .. } => Command::Set { name: "timezone".into(), value: setting_value(&[value]) },
        Set::SetNames { charset_name, .. } => {
            Command::Set { name: "client_encoding".into(), value: Some(charset_name.value) }
        }
        Set::SetTransaction { .. } | Set::SetSessionParam(_) | Set::SetNamesDefault {} => Command::Ignored("SET"),
        Set::SetRole { .. } | Set::SetSessionAuthorization(_) => {
            return Err(WireError::Unsupported("changing the role or session user is not supported".into()));
        }
        Set::ParenthesizedAssignments { .. } | Set::MultipleAssignments { .. } => {
            return Err(WireError::Unsupported("set one parameter per SET statement".into()));
        }
    })
}

/// `None` stands for `DEFAULT`.
fn setting_value(values: &[Expr]) -> Option<String> {
    let parts: Vec<String> = values
        .iter()
        .map(|value| match value {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [only] if only.eq_ignore_ascii_case("default") => None,
        _ => Some(parts.join(", ")),
    }
}

fn classify_declare(mut stmts: Vec<datafusion::sql::sqlparser::ast::Declare>) -> WireResult<Command> {
    let declare = match (stmts.pop(), stmts.is_empty()) {
        (Some(declare), true) => declare,
        _ => return Err(WireError::Unsupported("declare one cursor per statement".into())),
    };
    let query = declare.for_query.ok_or_else(|| WireError::Unsupported("DECLARE needs CURSOR FOR <query>".into()))?;
    let name = match declare.names.as_slice() {
        [name] => name.value.clone(),
        _ => return Err(WireError::Unsupported("declare one cursor per statement".into())),
    };
    Ok(Command::Declare { name, query: Box::new(Statement::Query(query)) })
}

fn fetch_count(direction: FetchDirection) -> WireResult<FetchCount> {
    let number = |value: &datafusion::sql::sqlparser::ast::ValueWithSpan| -> WireResult<usize> {
        match &value.value {
            Value::Number(n, _) => n.parse().map_err(|_| WireError::Parameter(format!("bad FETCH count {n}"))),
            other => Err(WireError::Parameter(format!("bad FETCH count {other}"))),
        }
    };
    Ok(match direction {
        FetchDirection::Next | FetchDirection::Forward { limit: None } => FetchCount::Rows(1),
        FetchDirection::Count { limit } | FetchDirection::Forward { limit: Some(limit) } => {
            FetchCount::Rows(number(&limit)?)
        }
        FetchDirection::All | FetchDirection::ForwardAll => FetchCount::All,
        _ => return Err(WireError::Unsupported("cursors here are forward-only (NO SCROLL)".into())),
    })
}

fn copy_source_query(source: CopySource) -> Statement {
    match source {
        CopySource::Query(query) => Statement::Query(query),
        CopySource::Table { table_name, columns } => Statement::Query(Box::new(select_table(table_name, columns))),
    }
}

/// `COPY t (a, b) TO STDOUT` is `COPY (SELECT a, b FROM t) TO STDOUT`, and passes the suppression
/// layer like that query.
fn select_table(table: ObjectName, columns: Vec<Ident>) -> Query {
    let projection = if columns.is_empty() { "*".to_string() } else { join_quoted(&columns) };
    let sql = format!("SELECT {projection} FROM {table}");
    match Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok().and_then(|mut s| s.pop()) {
        Some(Statement::Query(query)) => *query,
        _ => empty_query(table),
    }
}

fn empty_query(table: ObjectName) -> Query {
    // Unreachable for names the parser produced; kept total instead of panicking.
    let mut query = match Parser::parse_sql(&PostgreSqlDialect {}, "SELECT 1 FROM t").ok().and_then(|mut s| s.pop()) {
        Some(Statement::Query(query)) => *query,
        _ => unreachable!("a constant query parses"),
    };
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.from = vec![TableWithJoins {
            relation: TableFactor::Table {
                name: table,
                alias: None,
                args: None,
                with_hints: vec![],
                version: None,
                with_ordinality: false,
                partitions: vec![],
                json_path: None,
                sample: None,
                index_hints: vec![],
            },
            joins: vec![],
        }];
    }
    query
}

fn copy_format(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> WireResult<CopyFormat> {
    let mut format = CopyFormat { csv: false, header: false, delimiter: None, null: None };
    for option in options {
        match option {
            CopyOption::Format(name) if name.value.eq_ignore_ascii_case("csv") => format.csv = true,
            CopyOption::Format(name) if name.value.eq_ignore_ascii_case("text") => format.csv = false,
            CopyOption::Header(header) => format.header = *header,
            CopyOption::Delimiter(c) => format.delimiter = Some(*c),
            CopyOption::Null(null) => format.null = Some(null.clone()),
            other => return Err(WireError::Unsupported(format!("COPY option {other} is not supported"))),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Csv(csv_options) => {
                format.csv = true;
                for csv_option in csv_options {
                    match csv_option {
                        CopyLegacyCsvOption::Header => format.header = true,
                        other => return Err(WireError::Unsupported(format!("COPY option {other} is not supported"))),
                    }
                }
            }
            CopyLegacyOption::Header => format.header = true,
            CopyLegacyOption::Delimiter(c) => format.delimiter = Some(*c),
            CopyLegacyOption::Null(null) => format.null = Some(null.clone()),
            other => return Err(WireError::Unsupported(format!("COPY option {other} is not supported"))),
        }
    }
    Ok(format)
}

fn object_name(name: &ObjectName) -> String {
    zicht_engine::name_parts(name).join(".")
}

fn join_idents(idents: &[Ident]) -> String {
    idents.iter().map(|i| i.value.to_ascii_lowercase()).collect::<Vec<_>>().join(" ")
}

fn join_quoted(idents: &[Ident]) -> String {
    idents.iter().map(|i| format!("\"{}\"", i.value.replace('"', "\"\""))).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Command {
        let mut commands = parse(sql).unwrap();
        assert_eq!(commands.len(), 1, "{sql}");
        commands.pop().unwrap()
    }

    #[test]
    fn session_commands_are_recognised() {
        assert!(
            matches!(one("SET statement_timeout = '5s'"), Command::Set { name, value: Some(v) } if name == "statement_timeout" && v == "5s")
        );
        assert!(matches!(one("SET search_path TO DEFAULT"), Command::Set { value: None, .. }));
        assert!(matches!(one("SET TIME ZONE 'UTC'"), Command::Set { name, .. } if name == "timezone"));
        assert!(
            matches!(one("SHOW transaction isolation level"), Command::Show(n) if n == "transaction isolation level")
        );
        assert!(matches!(one("RESET ALL"), Command::Reset(None)));
        assert!(matches!(one("DISCARD ALL"), Command::DiscardAll));
        assert!(matches!(one("BEGIN"), Command::Begin));
        assert!(matches!(one("START TRANSACTION READ ONLY"), Command::Begin));
        assert!(matches!(one("COMMIT"), Command::Commit));
        assert!(matches!(one("ROLLBACK"), Command::Rollback));
        assert!(matches!(one("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"), Command::Ignored("SET")));
        assert!(matches!(one("SAVEPOINT _pg3_1"), Command::Ignored("SAVEPOINT")));
        assert!(matches!(one("RELEASE SAVEPOINT _pg3_1"), Command::Ignored("RELEASE")));
        assert!(matches!(one("ROLLBACK TO SAVEPOINT _pg3_1"), Command::RollbackToSavepoint));
    }

    #[test]
    fn cursors_and_copy_are_recognised() {
        assert!(matches!(one("DECLARE c CURSOR FOR SELECT 1"), Command::Declare { name, .. } if name == "c"));
        assert!(matches!(one("FETCH 100 FROM c"), Command::Fetch { count: FetchCount::Rows(100), .. }));
        assert!(matches!(one("FETCH ALL IN c"), Command::Fetch { count: FetchCount::All, .. }));
        assert!(matches!(one("FETCH NEXT FROM c"), Command::Fetch { count: FetchCount::Rows(1), .. }));
        assert!(matches!(one("UNLISTEN *"), Command::Ignored("UNLISTEN")));
        assert!(matches!(one("MOVE FORWARD 5 c"), Command::Move { count: FetchCount::Rows(5), .. }));
        assert!(matches!(one("  move all in c"), Command::Move { count: FetchCount::All, .. }));
        assert!(matches!(one("MOVE\tNEXT FROM c"), Command::Move { count: FetchCount::Rows(1), .. }));
        assert!(matches!(one("MOVE FORWARD 2 __asyncpg_portal_1__"), Command::Move { count: FetchCount::Rows(2), .. }));
        assert!(matches!(one("FETCH 3 c;"), Command::Fetch { count: FetchCount::Rows(3), .. }));
        assert!(matches!(one("FETCH c"), Command::Fetch { count: FetchCount::Rows(1), .. }));
        assert!(matches!(one("CLOSE c"), Command::Close(Some(_))));
        assert!(matches!(one("CLOSE ALL"), Command::Close(None)));
        let copy = one("COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER true)");
        assert!(matches!(copy, Command::CopyOut { format: CopyFormat { csv: true, header: true, .. }, .. }));
        assert!(matches!(one("COPY regio.gemeente TO STDOUT"), Command::CopyOut { .. }));
        // What psql's \copy sends for `CSV HEADER`.
        let legacy = one("COPY (SELECT 1) TO STDOUT CSV HEADER");
        assert!(matches!(legacy, Command::CopyOut { format: CopyFormat { csv: true, header: true, .. }, .. }));
        assert!(parse("COPY regio.gemeente TO '/tmp/x'").is_err());
        assert!(parse("COPY regio.gemeente FROM STDIN").is_err());
    }

    #[test]
    fn like_escapes_become_backslashes() {
        let Command::Query(statement) = one("SELECT 'pg_toast' LIKE 'pg/_' || '%' ESCAPE '/'") else { panic!() };
        let text = statement.to_string();
        assert!(!text.contains("ESCAPE"), "{text}");
        assert!(text.contains("chr(1)"), "{text}");
    }

    #[test]
    fn several_statements_and_queries() {
        let commands = parse("SET application_name = 'x'; SELECT 1; SELECT 2").unwrap();
        assert_eq!(commands.len(), 3);
        assert!(matches!(commands[1], Command::Query(_)));
        assert!(parse("SELEC 1").is_err());
    }
}
