//! A session: one caller's settings, planning and execution of SQL.

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::common::ParamValues;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::{ColumnarValue, LogicalPlan, ScalarUDF, Volatility, create_udf};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{CopyToSource, Statement as DFStatement};

use zicht_suppress::AccessLevel;

use crate::admission::Admission;
use crate::audit::{AuditSink, Outcome, fingerprint};
use crate::budget::QueryBudget;
use crate::error::{EngineError, Result};
use crate::limits::{StatementLimits, on_parser_stack, on_planner_stack};
use crate::released::{AuditTrail, Released};

/// One caller's view of the engine. Settings changed with `SET` stay in this session.
pub struct Session {
    ctx: SessionContext,
    user: String,
    level: AccessLevel,
    /// The budget this session's questions are charged to (untrusted sessions only).
    budget: Option<Arc<QueryBudget>>,
    shared: Shared,
}

/// What every session of an engine shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub protected: bool,
    pub audit: Option<Arc<dyn AuditSink>>,
    pub limits: StatementLimits,
    /// The slots of queries over protected data.
    pub admission: Admission,
}

/// DataFusion settings a session may change. Anything else could weaken what the engine shows
/// (`datafusion.explain.show_statistics` prints the minimum and maximum of every column).
const SETTABLE_OPTIONS: &[&str] = &[
    "datafusion.execution.batch_size",
    "datafusion.execution.target_partitions",
    "datafusion.execution.time_zone",
    "datafusion.explain.format",
    "datafusion.explain.logical_plan_only",
    "datafusion.explain.physical_plan_only",
    "datafusion.sql_parser.enable_ident_normalization",
];

impl Session {
    pub(crate) fn new(
        ctx: SessionContext,
        user: &str,
        level: AccessLevel,
        budget: Option<Arc<QueryBudget>>,
        shared: Shared,
    ) -> Session {
        let session = Session { ctx, user: user.to_string(), level, budget, shared };
        for name in ["session_user", "current_user"] {
            session.register_constant_function(name, ScalarValue::Utf8(Some(user.to_string())));
        }
        session
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn access_level(&self) -> AccessLevel {
        self.level
    }

    /// How long and how deep a statement of this session may be; front ends that parse SQL
    /// themselves apply the same limits (see [`crate::limits`]).
    pub fn limits(&self) -> StatementLimits {
        self.shared.limits
    }

    /// Defines a function without arguments that returns `value`, in this session only: what a
    /// front end knows about its connection (PostgreSQL's `pg_backend_pid()`, `current_user`).
    pub fn register_constant_function(&self, name: &str, value: ScalarValue) {
        let data_type = value.data_type();
        let function = create_udf(
            name,
            vec![],
            data_type,
            Volatility::Stable,
            Arc::new(move |_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
        );
        self.register_function(function);
    }

    /// Defines a function in this session only: what a front end's connection knows and keeps
    /// (its settings, read and written by `current_setting()` and `set_config()`). Over
    /// protected rows it is refused like any function the suppression layer does not know.
    pub fn register_function(&self, function: ScalarUDF) {
        self.ctx.register_udf(function);
    }

    /// Defines a table function in this session only: a front end's view of its connection
    /// (PostgreSQL's `pg_settings` with the values `SET` gave). It must read no protected data.
    pub fn register_table_function(&self, name: &str, function: Arc<dyn TableFunctionImpl>) {
        self.ctx.register_udtf(name, function);
    }

    /// The warehouse's schemas (`basis`, `regio`, the themes, `pg_catalog`, ...).
    pub fn schema_names(&self) -> Vec<String> {
        let catalog = self.ctx.state().config().options().catalog.default_catalog.clone();
        self.ctx.catalog(&catalog).map(|catalog| catalog.schema_names()).unwrap_or_default()
    }

    /// Where unqualified table names are looked up: a front end's `search_path`. A schema that
    /// does not exist is refused (42P01-like planning error), so names never resolve elsewhere.
    pub fn set_default_schema(&self, schema: &str) -> Result<()> {
        if !self.schema_names().iter().any(|name| name == schema) {
            return Err(EngineError::Plan {
                sqlstate: "3F000",
                message: format!("schema \"{schema}\" does not exist"),
            });
        }
        let state = self.ctx.state_ref();
        state.write().config_mut().options_mut().catalog.default_schema = schema.to_string();
        Ok(())
    }

    /// Plans one SQL statement. The plan may hold `$1`-style parameters; bind them with
    /// [`Session::execute_with_params`]. Statements that would change the warehouse are refused.
    pub async fn plan(&self, sql: &str) -> Result<LogicalPlan> {
        let statement = self.parse(sql).await?;
        self.plan_parsed(statement).await
    }

    /// Plans a parsed statement on the planner stack ([`on_planner_stack`]).
    async fn plan_parsed(&self, mut statement: DFStatement) -> Result<LogicalPlan> {
        crate::information_schema::use_postgres_information_schema(&mut statement);
        let state = self.ctx.state();
        on_planner_stack(async move {
            let plan = state.statement_to_plan(statement).await.map_err(EngineError::from_planning)?;
            refuse_changes(&plan)?;
            crate::integer_results::postgres_integer_results(plan).map_err(EngineError::from_planning)
        })
        .await?
    }

    /// Parses one statement within the session's [`StatementLimits`], on the parser stack.
    async fn parse(&self, sql: &str) -> Result<DFStatement> {
        self.shared.limits.check_text(sql)?;
        refuse_writing_statements(sql)?;
        let state = self.ctx.state();
        let limits = self.shared.limits;
        let sql = sql.to_string();
        on_parser_stack(move || {
            let statement = state
                .sql_to_statement(&sql, &datafusion::common::config::Dialect::PostgreSQL)
                .map_err(EngineError::from_planning)?;
            check_depth(&statement, &limits)?;
            Ok(statement)
        })
        .await?
    }

    /// Plans one parsed statement (for front ends that parse or rewrite SQL themselves, such as
    /// the wire server's PostgreSQL compatibility layer).
    /// The statement must be within the session's [`Session::limits`] (checked where it was
    /// parsed, on the parser stack).
    /// A statement it cannot plan is recorded in the audit log, as [`Session::sql`] does.
    pub async fn plan_statement(&self, statement: datafusion::sql::sqlparser::ast::Statement) -> Result<LogicalPlan> {
        let text = statement.to_string();
        match self.plan_parsed(DFStatement::Statement(Box::new(statement))).await {
            Ok(plan) => Ok(plan),
            Err(error) => Err(self.trail(fingerprint(&text)).refused(error)),
        }
    }

    /// Records a statement that ended before the engine could (a front end's parse error, a
    /// cancel or timeout while it was planned), so that the audit log has one line for every
    /// statement received, whatever its fate.
    pub fn audit_unfinished(&self, statement: &str, error: &EngineError) {
        self.trail(fingerprint(statement)).write_failure(error);
    }

    /// Records a statement a front end answered itself (`SET`, `SHOW`, `BEGIN`, ...).
    pub fn audit_completed(&self, statement: &str) {
        self.trail(fingerprint(statement)).write(Outcome::Completed, 0, 0, None);
    }

    /// Plans and runs one SQL statement.
    pub async fn sql(&self, sql: &str) -> Result<Released> {
        let trail = self.trail(fingerprint(sql));
        let plan = match self.plan(sql).await {
            Ok(plan) => plan,
            Err(error) => return Err(trail.refused(error)),
        };
        self.run(plan, trail).await
    }

    /// Runs a planned statement with its parameters bound.
    pub async fn execute_with_params(&self, plan: LogicalPlan, params: ParamValues) -> Result<Released> {
        let plan = plan.with_param_values(params).map_err(EngineError::from_planning)?;
        self.execute(plan).await
    }

    /// Runs a planned statement: analysis (where the suppression layer rewrites it), optimisation,
    /// physical planning (where the guard checks it), then a stream of released batches.
    pub async fn execute(&self, plan: LogicalPlan) -> Result<Released> {
        let trail = self.trail(fingerprint(&plan.display_indent().to_string()));
        self.run(plan, trail).await
    }

    async fn run(&self, plan: LogicalPlan, mut trail: AuditTrail) -> Result<Released> {
        let physical = match self.plan_physical(plan).await {
            Ok(physical) => physical,
            Err(error) => return Err(trail.refused(error)),
        };
        let reads_protected = zicht_suppress::reads_protected(&physical);
        trail.reads_protected = reads_protected;
        if let Some(budget) = &self.budget {
            let questions = zicht_suppress::questions(&physical);
            if let Err(refusal) = budget.charge(&self.user, &questions, std::time::SystemTime::now()) {
                return Err(trail.refused(EngineError::Suppression(refusal)));
            }
            trail.questions = questions;
        }
        let task = match crate::cluster::is_distributed(&physical) {
            true => match crate::cluster::task_context(&self.ctx.state(), &physical) {
                Ok(task) => task,
                Err(error) => return Err(trail.refused(EngineError::from_planning(error))),
            },
            false => self.ctx.task_ctx(),
        };
        if !reads_protected {
            return Released::running(physical, task, trail);
        }
        Ok(Released::admitted(physical, task, self.shared.admission.clone(), trail))
    }

    /// Analysis, optimisation and physical planning, on the planner stack ([`on_planner_stack`]).
    async fn plan_physical(&self, plan: LogicalPlan) -> Result<Arc<dyn ExecutionPlan>> {
        let ctx = self.ctx.clone();
        let protected = self.shared.protected;
        on_planner_stack(async move {
            refuse_changes(&plan)?;
            if protected {
                zicht_suppress::check_statement(&plan)?;
            }
            let frame = ctx.execute_logical_plan(plan).await.map_err(EngineError::from_planning)?;
            let physical = frame.create_physical_plan().await.map_err(EngineError::from_planning)?;
            if protected {
                zicht_suppress::verify_released(&physical)?;
                crate::cluster::verify_stages_visible(&physical)?;
            }
            Ok(physical)
        })
        .await?
    }

    fn trail(&self, fingerprint: String) -> AuditTrail {
        AuditTrail {
            sink: self.shared.audit.clone(),
            user: self.user.clone(),
            access: self.level,
            fingerprint,
            reads_protected: false,
            questions: Vec::new(),
        }
    }

    /// The physical plan a statement would run, after protection; for EXPLAIN-like tooling.
    pub async fn physical_plan(&self, sql: &str) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.plan(sql).await?;
        self.plan_physical(plan).await
    }

    /// Sets a DataFusion option for this session only (`datafusion.execution.batch_size`, ...);
    /// only the options in [`SETTABLE_OPTIONS`].
    pub fn set_option(&self, key: &str, value: &str) -> Result<()> {
        refuse_setting(key)?;
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().set(key, value).map_err(EngineError::from_planning)
    }
}

/// Measures the SQL statements inside one of DataFusion's statements. Statements that carry no
/// SQL query but are DataFusion's own DDL are refused here, before planning: the warehouse is
/// read-only.
fn check_depth(statement: &DFStatement, limits: &StatementLimits) -> Result<()> {
    match statement {
        DFStatement::Statement(inner) => limits.check_depth(inner),
        DFStatement::Explain(explain) => check_depth(&explain.statement, limits),
        DFStatement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(query) => limits.check_query_depth(query),
            CopyToSource::Relation(_) => Ok(()),
        },
        DFStatement::Reset(_) => Ok(()),
        DFStatement::CreateExternalTable(_) => {
            Err(EngineError::NotAllowed("CREATE EXTERNAL TABLE is not allowed: the warehouse is read-only".into()))
        }
    }
}

/// Statement kinds that would change the warehouse, its catalog, its users or the server, by
/// their first keyword. Refused before parsing, so that one the parser does not know (`CLUSTER`,
/// `CHECKPOINT`, `ALTER SYSTEM`) is refused as read-only too, not reported as a syntax error.
const WRITING_KEYWORDS: &[&str] = &[
    "ALTER",
    "ANALYZE",
    "CALL",
    "CHECKPOINT",
    "CLUSTER",
    "COMMENT",
    "CREATE",
    "DELETE",
    "DO",
    "DROP",
    "GRANT",
    "IMPORT",
    "INSERT",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MERGE",
    "NOTIFY",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "REVOKE",
    "SECURITY",
    "TRUNCATE",
    "UPDATE",
    "VACUUM",
];

/// Refuses a text whose statements begin with a [`WRITING_KEYWORDS`] keyword (42501).
pub fn refuse_writing_statements(sql: &str) -> Result<()> {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else { return Ok(()) };
    let mut at_start = true;
    for token in tokens {
        match token {
            Token::Whitespace(_) => {}
            Token::SemiColon => at_start = true,
            Token::Word(word) if at_start => {
                let keyword = word.value.to_ascii_uppercase();
                if word.quote_style.is_none() && WRITING_KEYWORDS.contains(&keyword.as_str()) {
                    return Err(EngineError::NotAllowed(format!(
                        "{keyword} is not allowed: the warehouse is read-only"
                    )));
                }
                at_start = false;
            }
            _ => at_start = false,
        }
    }
    Ok(())
}

/// Namespaces of settings that only the engine may change: DataFusion's, and a coordinator's
/// datafusion-distributed and fragment settings (an analyst who could turn on dynamic task counts
/// would move stage boundaries past the guard's check).
const ENGINE_NAMESPACES: &[&str] = &["datafusion.", "distributed.", "zicht."];

fn refuse_setting(key: &str) -> Result<()> {
    let key = key.to_ascii_lowercase();
    if ENGINE_NAMESPACES.iter().any(|namespace| key.starts_with(namespace)) && !SETTABLE_OPTIONS.contains(&key.as_str())
    {
        return Err(EngineError::NotAllowed(format!("{key} cannot be changed in a session")));
    }
    Ok(())
}

/// The warehouse is read-only: no DDL, no DML, no COPY to files; and sessions change only the
/// settings that cannot weaken protection.
fn refuse_changes(plan: &LogicalPlan) -> Result<()> {
    let mut refusal = None;
    plan.apply_with_subqueries(|node| {
        refusal = match node {
            LogicalPlan::Statement(datafusion::logical_expr::Statement::SetVariable(set)) => {
                refuse_setting(&set.variable).err().map(|e| e.to_string())
            }
            LogicalPlan::Ddl(ddl) => Some(format!("{} is not allowed: the warehouse is read-only", ddl.name())),
            LogicalPlan::Dml(dml) => Some(format!("{} is not allowed: the warehouse is read-only", dml.op)),
            LogicalPlan::Copy(_) => Some("COPY to a file is not allowed; use COPY (query) TO STDOUT".to_string()),
            _ => None,
        };
        Ok(if refusal.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })
    .map_err(EngineError::from_planning)?;
    refusal.map_or(Ok(()), |message| Err(EngineError::NotAllowed(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_engine_settings_can_be_changed() {
        assert!(refuse_setting("datafusion.execution.batch_size").is_ok());
        assert!(refuse_setting("search_path").is_ok());
        for key in [
            "datafusion.explain.show_statistics",
            "distributed.dynamic_task_count",
            "DISTRIBUTED.broadcast_joins",
            "zicht.aggregations",
        ] {
            assert!(refuse_setting(key).is_err(), "{key}");
        }
    }
}
