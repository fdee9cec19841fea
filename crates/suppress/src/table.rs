//! Catalog tables, and the marker the scans of protected ones carry through physical planning.

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

/// A table of the catalog, as the engine registers it: it scans like its inner table and carries
/// its catalog definition, so the analyzer rule recognises it by type, not by name, and knows its
/// units and key. The scan of a protected table is wrapped in a [`ProtectedScanExec`], so that the
/// physical guard can see where protected rows enter a plan.
#[derive(Debug)]
pub struct CatalogTable {
    inner: Arc<dyn TableProvider>,
    definition: Arc<TableDef>,
}

impl CatalogTable {
    pub fn new(inner: Arc<dyn TableProvider>, definition: Arc<TableDef>) -> CatalogTable {
        CatalogTable { inner, definition }
    }

    pub fn definition(&self) -> &Arc<TableDef> {
        &self.definition
    }

    /// The catalog table behind a provider, if it is one.
    pub fn of(provider: &Arc<dyn TableProvider>) -> Option<&CatalogTable> {
        let any: &dyn Any = provider.as_ref();
        any.downcast_ref::<CatalogTable>()
    }

    /// The protected catalog table behind a provider, if it is one.
    pub fn protected(provider: &Arc<dyn TableProvider>) -> Option<&CatalogTable> {
        CatalogTable::of(provider).filter(|table| table.definition.is_protected())
    }
}

#[async_trait]
impl TableProvider for CatalogTable {
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
        if !self.definition.is_protected() {
            return Ok(scan);
        }
        Ok(Arc::new(ProtectedScanExec::new(scan, self.definition.qualified_name())))
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    /// Statistics of public tables only: those of protected tables would describe their units.
    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        (!self.definition.is_protected()).then(|| self.inner.statistics()).flatten()
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
    /// Marks `input` as a scan of the protected table `table` (a plan fragment decoded on a
    /// cluster worker; the catalog's tables mark their own scans).
    pub fn new(input: Arc<dyn ExecutionPlan>, table: String) -> ProtectedScanExec {
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
