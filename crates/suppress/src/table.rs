//! Protected tables and the marker their scans carry through physical planning.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use zicht_catalog::TableDef;

/// A table of unit-level microdata. It scans like its inner table, but its scan is wrapped in a
/// [`ProtectedScanExec`] so the physical guard can see where protected rows enter a plan, and the
/// analyzer rule recognises it by type, not by name.
#[derive(Debug)]
pub struct ProtectedTable {
    inner: Arc<dyn TableProvider>,
    definition: Arc<TableDef>,
}

impl ProtectedTable {
    pub fn new(inner: Arc<dyn TableProvider>, definition: Arc<TableDef>) -> ProtectedTable {
        ProtectedTable { inner, definition }
    }

    pub fn definition(&self) -> &Arc<TableDef> {
        &self.definition
    }

    /// The protected table behind a provider, if it is one.
    pub fn of(provider: &Arc<dyn TableProvider>) -> Option<&ProtectedTable> {
        let any: &dyn Any = provider.as_ref();
        any.downcast_ref::<ProtectedTable>()
    }
}

#[async_trait]
impl TableProvider for ProtectedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scan = self.inner.scan(state, projection, filters, limit).await?;
        Ok(Arc::new(ProtectedScanExec::new(scan, self.definition.qualified_name())))
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
}

/// A table of public reference data from the catalog. It scans exactly like its inner table; the
/// wrapper only lets the analyzer rule know its catalog definition (its key, for joins).
#[derive(Debug)]
pub struct PublicTable {
    inner: Arc<dyn TableProvider>,
    definition: Arc<TableDef>,
}

impl PublicTable {
    pub fn new(inner: Arc<dyn TableProvider>, definition: Arc<TableDef>) -> PublicTable {
        PublicTable { inner, definition }
    }

    pub fn definition(&self) -> &Arc<TableDef> {
        &self.definition
    }

    /// The public catalog table behind a provider, if it is one.
    pub fn of(provider: &Arc<dyn TableProvider>) -> Option<&PublicTable> {
        let any: &dyn Any = provider.as_ref();
        any.downcast_ref::<PublicTable>()
    }
}

#[async_trait]
impl TableProvider for PublicTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.inner.statistics()
    }
}

/// Marks the scan of a protected table. Passes batches through unchanged.
#[derive(Debug, Clone)]
pub struct ProtectedScanExec {
    input: Arc<dyn ExecutionPlan>,
    table: String,
    properties: Arc<PlanProperties>,
}

impl ProtectedScanExec {
    fn new(input: Arc<dyn ExecutionPlan>, table: String) -> ProtectedScanExec {
        let properties = Arc::new(PlanProperties::clone(input.properties()));
        ProtectedScanExec { input, table, properties }
    }

    /// The qualified name of the protected table scanned.
    pub fn table(&self) -> &str {
        &self.table
    }
}

impl DisplayAs for ProtectedScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtectedScanExec: table={}", self.table)
    }
}

impl ExecutionPlan for ProtectedScanExec {
    fn name(&self) -> &str {
        "ProtectedScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return datafusion::common::internal_err!("ProtectedScanExec takes exactly one child");
        }
        let input = children.swap_remove(0);
        Ok(Arc::new(match options.children_properties {
            ChildrenPropertiesMode::Keep => ProtectedScanExec { input, ..ProtectedScanExec::clone(&self) },
            ChildrenPropertiesMode::Recompute => ProtectedScanExec::new(input, self.table.clone()),
        }))
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }
}
