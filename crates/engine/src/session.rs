//! A session: one caller's settings, planning and execution of SQL.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, execute_stream};
use datafusion::prelude::SessionContext;
use futures::Stream;

use crate::error::{EngineError, Result};

/// One caller's view of the engine. Settings changed with `SET` stay in this session.
pub struct Session {
    ctx: SessionContext,
    user: String,
    protected: bool,
}

impl Session {
    pub(crate) fn new(ctx: SessionContext, user: &str, protected: bool) -> Session {
        Session { ctx, user: user.to_string(), protected }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// Plans one SQL statement. The plan may hold `$1`-style parameters; bind them with
    /// [`Session::execute_with_params`]. Statements that would change the warehouse are refused.
    pub async fn plan(&self, sql: &str) -> Result<LogicalPlan> {
        let state = self.ctx.state();
        let statement = state
            .sql_to_statement(sql, &datafusion::common::config::Dialect::PostgreSQL)
            .map_err(EngineError::from_planning)?;
        let plan = state.statement_to_plan(statement).await.map_err(EngineError::from_planning)?;
        refuse_changes(&plan)?;
        Ok(plan)
    }

    /// Plans and runs one SQL statement.
    pub async fn sql(&self, sql: &str) -> Result<Released> {
        let plan = self.plan(sql).await?;
        self.execute(plan).await
    }

    /// Runs a planned statement with its parameters bound.
    pub async fn execute_with_params(&self, plan: LogicalPlan, params: ParamValues) -> Result<Released> {
        let plan = plan.with_param_values(params).map_err(EngineError::from_planning)?;
        self.execute(plan).await
    }

    /// Runs a planned statement: analysis (where the suppression layer rewrites it), optimisation,
    /// physical planning (where the guard checks it), then a stream of released batches.
    pub async fn execute(&self, plan: LogicalPlan) -> Result<Released> {
        refuse_changes(&plan)?;
        let frame = self.ctx.execute_logical_plan(plan).await.map_err(EngineError::from_planning)?;
        let physical = frame.create_physical_plan().await.map_err(EngineError::from_planning)?;
        let reads_protected = zicht_suppress::reads_protected(&physical);
        if self.protected {
            zicht_suppress::verify_released(&physical)?;
        }
        let stream = execute_stream(Arc::clone(&physical), self.ctx.task_ctx())
            .map_err(|e| EngineError::from_execution(e, reads_protected))?;
        Ok(Released { stream, reads_protected, physical })
    }

    /// The physical plan a statement would run, after protection; for EXPLAIN-like tooling.
    pub async fn physical_plan(&self, sql: &str) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.plan(sql).await?;
        let frame = self.ctx.execute_logical_plan(plan).await.map_err(EngineError::from_planning)?;
        frame.create_physical_plan().await.map_err(EngineError::from_planning)
    }

    /// Sets a DataFusion option for this session only (`datafusion.execution.batch_size`, ...).
    pub fn set_option(&self, key: &str, value: &str) -> Result<()> {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().set(key, value).map_err(EngineError::from_planning)
    }

    /// The DataFusion context of this session, with the suppression layer installed. For
    /// integrations (the wire server's catalog emulation) that register extra public tables.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

/// The warehouse is read-only: no DDL, no DML, no COPY to files.
fn refuse_changes(plan: &LogicalPlan) -> Result<()> {
    let mut refusal = None;
    plan.apply_with_subqueries(|node| {
        refusal = match node {
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

/// A result that has passed the suppression layer: the only way batches leave the engine.
/// It has no public constructor.
pub struct Released {
    stream: SendableRecordBatchStream,
    reads_protected: bool,
    physical: Arc<dyn ExecutionPlan>,
}

impl Released {
    pub fn schema(&self) -> SchemaRef {
        self.stream.schema()
    }

    /// Whether the result was computed from protected microdata (and so passed a protecting
    /// aggregate).
    pub fn reads_protected(&self) -> bool {
        self.reads_protected
    }

    /// The plan that produced this result, for audit and EXPLAIN.
    pub fn physical_plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.physical
    }

    /// Collects all batches.
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        futures::TryStreamExt::try_collect(self).await
    }
}

impl Stream for Released {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let protected = self.reads_protected;
        self.stream
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|batch| batch.map_err(|e| EngineError::from_execution(e, protected))))
    }
}
