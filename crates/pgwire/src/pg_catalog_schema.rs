//! The pg_catalog schema clients read: datafusion-pg-catalog's, with the tables it serves in
//! another shape than PostgreSQL 15 replaced by the shape clients query:
//!
//! - `pg_index` and `pg_constraint` with their column lists as arrays ([`crate::pg_vectors`]);
//! - `pg_type` with its function columns as oids ([`crate::pg_regproc`]);
//! - `pg_proc` with its argument vectors as arrays and the warehouse's own functions
//!   ([`crate::pg_proc`]);
//! - `pg_description` with the warehouse's own descriptions ([`crate::pg_description`]);
//! - `pg_class` with `relacl` and `reloptions` (NULL: no table has a grant or a storage
//!   option), which SQLAlchemy's `get_indexes`, psql's `\dp` and `\d+` and pgcli's `\d` of a
//!   view select, and `pg_namespace.nspacl`, `pg_database.datacl` and `pg_attribute.attacl` as
//!   the same NULL arrays (datafusion-pg-catalog: NULL text), which psql's `\dn+`, `\l+` and
//!   `\dp` pass to `array_to_string`.
//!
//! Everything else is datafusion-pg-catalog's as it is. Upstream, datafusion-pg-catalog should
//! serve the vectors as arrays, the two NULL columns, and take descriptions from its
//! `CatalogInfo`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use tokio::sync::OnceCell;

use crate::pg_description::{Description, PgDescription};
use crate::pg_proc::{OwnFunction, PgProc};
use crate::pg_regproc::pg_type_with_function_oids;
use crate::pg_vectors::{vector_columns, with_arrays_batches, with_arrays_table};

/// pg_catalog as clients expect it (see the module's docs).
#[derive(Debug)]
pub(crate) struct PgCatalogSchema {
    inner: Arc<dyn SchemaProvider>,
    /// pg_index and pg_constraint with arrays and pg_type with function oids, made from
    /// `inner`'s when first read (not when a session state is built), then shared by every session.
    converted: HashMap<&'static str, OnceCell<Arc<dyn TableProvider>>>,
    descriptions: Arc<[Description]>,
    /// The warehouse's own functions, listed in pg_proc.
    functions: Arc<[OwnFunction]>,
}

impl PgCatalogSchema {
    pub(crate) fn new(
        inner: Arc<dyn SchemaProvider>,
        descriptions: Arc<[Description]>,
        functions: Arc<[OwnFunction]>,
    ) -> PgCatalogSchema {
        let converted =
            crate::pg_vectors::tables_with_vectors().chain(["pg_type"]).map(|name| (name, OnceCell::new())).collect();
        PgCatalogSchema { inner, converted, descriptions, functions }
    }

    async fn inner_table(&self, name: &str) -> Result<Arc<dyn TableProvider>> {
        match self.inner.table(name).await? {
            Some(table) => Ok(table),
            None => datafusion::common::plan_err!("datafusion-pg-catalog serves no pg_catalog.{name}"),
        }
    }
}

#[async_trait]
impl SchemaProvider for PgCatalogSchema {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(cell) = self.converted.get(name) {
            let init = || async {
                let table = self.inner.table(name).await?;
                match (name, vector_columns(name)) {
                    ("pg_proc", Some(columns)) => {
                        let arrays = with_arrays_batches(name, table, columns).await?;
                        let namespaces = self.inner_table("pg_namespace").await?;
                        Ok(Arc::new(PgProc::new(arrays, namespaces, Arc::clone(&self.functions))?) as _)
                    }
                    (_, Some(columns)) => with_arrays_table(name, table, columns).await,
                    // pg_type, the one converted table without vectors.
                    (_, None) => pg_type_with_function_oids(table, self.inner.table("pg_proc").await?).await,
                }
            };
            return Ok(Some(Arc::clone(cell.get_or_try_init(init).await?)));
        }
        match name {
            "pg_description" => {
                let builtin = self.inner_table("pg_description").await?;
                let description = PgDescription::new(builtin, Arc::clone(&self.inner), Arc::clone(&self.descriptions));
                Ok(Some(Arc::new(description)))
            }
            "pg_class" => {
                let nulls =
                    [NullColumn::Before("relacl", "relpartbound"), NullColumn::Before("reloptions", "relpartbound")];
                Ok(Some(Arc::new(WithNullColumns::new(self.inner_table(name).await?, &nulls))))
            }
            "pg_namespace" | "pg_database" | "pg_attribute" => {
                let acl = match name {
                    "pg_namespace" => "nspacl",
                    "pg_database" => "datacl",
                    _ => "attacl",
                };
                Ok(Some(Arc::new(WithNullColumns::new(self.inner_table(name).await?, &[NullColumn::Replacing(acl)]))))
            }
            _ => self.inner.table(name).await,
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// A column of NULL text arrays (PostgreSQL's `aclitem[]` and `text[]` of a relation without
/// grants or options).
enum NullColumn {
    /// A new column, before a column of the table.
    Before(&'static str, &'static str),
    /// A column of the table.
    Replacing(&'static str),
}

/// A table with some columns of NULL text arrays ([`NullColumn`]).
#[derive(Debug)]
struct WithNullColumns {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    /// For each column of `schema`, the inner column it is, or None for a NULL one.
    sources: Vec<Option<usize>>,
}

impl WithNullColumns {
    fn new(inner: Arc<dyn TableProvider>, nulls: &[NullColumn]) -> WithNullColumns {
        let inner_schema = inner.schema();
        let null_texts = |name: &str| Field::new(name, DataType::new_list(DataType::Utf8, true), true);
        let mut fields = Vec::new();
        let mut sources = Vec::new();
        for (index, field) in inner_schema.fields().iter().enumerate() {
            for null in nulls {
                if let NullColumn::Before(name, before) = null
                    && before == field.name()
                {
                    fields.push(null_texts(name));
                    sources.push(None);
                }
            }
            if nulls.iter().any(|null| matches!(null, NullColumn::Replacing(name) if name == field.name())) {
                fields.push(null_texts(field.name()));
                sources.push(None);
            } else {
                fields.push(field.as_ref().clone());
                sources.push(Some(index));
            }
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, inner_schema.metadata().clone()));
        WithNullColumns { inner, schema, sources }
    }

    fn widen(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .schema
            .fields()
            .iter()
            .zip(&self.sources)
            .map(|(field, source)| match source {
                Some(index) => Arc::clone(batch.column(*index)),
                None => new_null_array(field.data_type(), batch.num_rows()),
            })
            .collect();
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[async_trait]
impl TableProvider for WithNullColumns {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    /// The inner table is small (a catalog's relations): read whole, then widened.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batches = read_whole(&self.inner, state).await?;
        let widened = batches.iter().map(|batch| self.widen(batch)).collect::<Result<Vec<_>>>()?;
        let table = MemTable::try_new(Arc::clone(&self.schema), vec![widened])?;
        table.scan(state, projection, filters, limit).await
    }
}

/// Every row of a (small, catalog) table.
pub(crate) async fn read_whole(table: &Arc<dyn TableProvider>, state: &dyn Session) -> Result<Vec<RecordBatch>> {
    let plan = table.scan(state, None, &[], None).await?;
    datafusion::physical_plan::collect(plan, state.task_ctx()).await
}

/// Every batch of a datafusion-pg-catalog table that is served from memory, as the tables
/// converted here are (a static catalog; read without a session).
pub(crate) async fn in_memory_batches(name: &str, table: Option<Arc<dyn TableProvider>>) -> Result<Vec<RecordBatch>> {
    let Some(memory) = table.as_ref().and_then(|table| table.downcast_ref::<MemTable>()) else {
        return plan_err!("pg_catalog.{name} is not the in-memory table it is expected to be");
    };
    let mut batches = Vec::new();
    for partition in &memory.batches {
        batches.extend(partition.read().await.iter().cloned());
    }
    Ok(batches)
}

/// The converted batches of `name` as one in-memory table.
pub(crate) fn converted_table(name: &str, converted: Vec<RecordBatch>) -> Result<Arc<dyn TableProvider>> {
    let Some(schema) = converted.first().map(RecordBatch::schema) else {
        return plan_err!("pg_catalog.{name} has no rows to take its shape from");
    };
    Ok(Arc::new(MemTable::try_new(schema, vec![converted])?))
}
