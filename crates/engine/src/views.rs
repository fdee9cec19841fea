//! Saved theme queries as views: `<theme>.<name>` for every file in queries/, so BI tools list
//! them next to the tables.
//!
//! A saved query is reviewed catalog code: it runs at the trusted level for every user, through
//! the same suppression layer as any query (no exemption). Its view is not inlined into the query
//! that reads it; the query sees only its released cells, so whatever an analyst writes over a
//! saved query is post-processing, at any access level.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, MemorySchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, SortExpr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use zicht_catalog::SavedQuery;

use crate::error::{EngineError, Result};

/// A saved query as the engine serves it.
#[derive(Debug, Clone)]
pub struct SavedView {
    pub query: SavedQuery,
    /// The saved query's ORDER BY over its output columns (`"gm_code", "jaar" DESC`), empty when
    /// it has none. A view drops the order of its query, as SQL views do, so whoever reads the
    /// view for a person (`zicht run`) adds this.
    pub order_by: String,
}

/// A saved query as a table: its scan plans the query at the trusted level and runs it.
#[derive(Debug)]
struct SavedQueryTable {
    sql: String,
    schema: SchemaRef,
    trusted: SessionState,
}

#[async_trait]
impl TableProvider for SavedQueryTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// A view: its rows are released cells (the analyzer rule treats views as released).
    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.sql)
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let plan = self.trusted.create_logical_plan(&self.sql).await?;
        let plan = self.trusted.create_physical_plan(&plan).await?;
        match projection {
            Some(columns) => {
                let exprs: Vec<(usize, String)> =
                    columns.iter().map(|&i| (i, self.schema.field(i).name().clone())).collect();
                Ok(Arc::new(ProjectionExec::try_new(
                    exprs.into_iter().map(|(i, name)| {
                        let column: Arc<dyn datafusion::physical_expr::PhysicalExpr> =
                            Arc::new(datafusion::physical_expr::expressions::Column::new(&name, i));
                        (column, name)
                    }),
                    plan,
                )?))
            }
            None => Ok(plan),
        }
    }

    /// Filters over a saved query are applied to its released output, never pushed into it.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Unsupported; filters.len()])
    }
}

/// Registers every saved query as a view in its theme's schema. `trusted` is the state the saved
/// queries run in; their plans are checked now, so a broken saved query stops the engine opening.
pub(crate) async fn register(
    trusted: &SessionState,
    catalog: &dyn CatalogProvider,
    queries: Vec<SavedQuery>,
) -> Result<Vec<SavedView>> {
    let mut views = Vec::with_capacity(queries.len());
    for query in queries {
        let schema = match catalog.schema(&query.theme) {
            Some(schema) => schema,
            None => {
                let schema = Arc::new(MemorySchemaProvider::new());
                catalog.register_schema(&query.theme, schema.clone()).map_err(EngineError::from_planning)?;
                schema
            }
        };
        if schema.table_exist(&query.name) {
            return Err(saved_query_error(&query, format!("a table {}.{} already exists", query.theme, query.name)));
        }
        let planning_error = |e| saved_query_error(&query, EngineError::from_planning(e).to_string());
        let plan = trusted.create_logical_plan(&query.sql).await.map_err(planning_error)?;
        let order_by = output_order(&plan);
        let checked = trusted.optimize(&plan).map_err(planning_error)?;
        let table = SavedQueryTable {
            sql: query.sql.clone(),
            schema: Arc::new(checked.schema().as_arrow().clone()),
            trusted: trusted.clone(),
        };
        schema.register_table(query.name.clone(), Arc::new(table)).map_err(EngineError::from_planning)?;
        views.push(SavedView { query, order_by });
    }
    Ok(views)
}

fn saved_query_error(query: &SavedQuery, message: String) -> EngineError {
    EngineError::Data { dir: "queries".into(), message: format!("queries/{}: {message}", query.file) }
}

/// The ORDER BY of a planned query, when every key is one of its output columns.
fn output_order(plan: &LogicalPlan) -> String {
    let (sort, passed_through) = match plan {
        LogicalPlan::Sort(sort) => (sort, None),
        LogicalPlan::Projection(projection) => match projection.input.as_ref() {
            LogicalPlan::Sort(sort) => (sort, Some(&projection.expr)),
            _ => return String::new(),
        },
        _ => return String::new(),
    };
    let keys: Option<Vec<String>> = sort.expr.iter().map(|key| output_key(plan, key, passed_through)).collect();
    keys.map(|keys| keys.join(", ")).unwrap_or_default()
}

fn output_key(plan: &LogicalPlan, key: &SortExpr, passed_through: Option<&Vec<Expr>>) -> Option<String> {
    let Expr::Column(column) = &key.expr else { return None };
    plan.schema().field_with_unqualified_name(&column.name).ok()?;
    // Under a projection, the name must be the same column passed through, not an alias of
    // something else.
    if let Some(exprs) = passed_through
        && !exprs.iter().any(|e| matches!(e, Expr::Column(c) if c.name == column.name))
    {
        return None;
    }
    let direction = if key.asc { "" } else { " DESC" };
    Some(format!("\"{}\"{direction}", column.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn order_of(sql: &str) -> String {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (a INT, b INT, c INT)").await.unwrap();
        output_order(&ctx.state().create_logical_plan(sql).await.unwrap())
    }

    #[tokio::test]
    async fn the_order_of_output_columns_is_kept() {
        assert_eq!(order_of("SELECT a, b FROM t ORDER BY a, b DESC").await, "\"a\", \"b\" DESC");
        assert_eq!(order_of("SELECT a, b FROM t").await, "");
        // Sorted by a column that is not in the output: no order to restore.
        assert_eq!(order_of("SELECT a FROM t ORDER BY c").await, "");
        // Sorted by a renamed column: by its output name.
        assert_eq!(order_of("SELECT c AS a FROM t ORDER BY t.c").await, "\"a\"");
    }
}
