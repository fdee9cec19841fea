//! Saved theme queries as views: `<theme>.<name>` for every file in queries/, so BI tools list
//! them next to the tables. A view's plan is inlined into the query that reads it, so the
//! suppression layer sees, and protects, the whole query: views have no exemption.

use std::sync::Arc;

use datafusion::catalog::{CatalogProvider, MemorySchemaProvider};
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::{Expr, LogicalPlan, SortExpr};
use datafusion::prelude::SessionContext;
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

pub(crate) async fn register(
    ctx: &SessionContext,
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
        let plan = ctx
            .state()
            .create_logical_plan(&query.sql)
            .await
            .map_err(|e| saved_query_error(&query, EngineError::from_planning(e).to_string()))?;
        let order_by = output_order(&plan);
        let view = ViewTable::new(plan, Some(query.sql.clone()));
        schema.register_table(query.name.clone(), Arc::new(view)).map_err(EngineError::from_planning)?;
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
