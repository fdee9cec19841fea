//! `pg_description` with the warehouse's own descriptions: every table's and column's from the
//! catalog (`catalog/*/*.toml`) and every saved query's (its title and description), as
//! `COMMENT ON` would have stored them in PostgreSQL. Client tools show them: psql's `\dt+` and
//! `\d+`, pgjdbc's `REMARKS`, Metabase's and DBeaver's column descriptions (through
//! `obj_description()` and `col_description()`, see [`crate::compat`]).
//!
//! The oids of the warehouse's relations are datafusion-pg-catalog's, given when pg_class is
//! first read, so the rows are made when the table is read: pg_class and pg_namespace are read
//! (a few hundred rows) and each description finds its relation's oid there. PostgreSQL's own
//! descriptions (of its functions, types, ...) are datafusion-pg-catalog's as they are.
//! Descriptions are catalog text, the same for every user: nothing in them depends on data.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use zicht_engine::Engine;

use crate::pg_catalog_schema::read_whole;
use crate::pg_proc::OwnFunction;

/// PostgreSQL's oid of pg_class, should this catalog's pg_class not list itself.
const PG_CLASS_OID: i32 = 1259;

/// PostgreSQL's oid of pg_proc, the catalog of the functions described.
const PG_PROC_OID: i32 = 1255;

/// A description of a relation (`column` 0) or of one of its columns (from 1), or of one of the
/// warehouse's functions (by its oid, [`crate::pg_proc`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Description {
    Relation { schema: String, relation: String, column: i32, text: String },
    Function { oid: i32, text: String },
}

/// The descriptions of the tables, their columns, the saved queries and the functions `engine`
/// serves.
pub(crate) fn warehouse_descriptions(engine: &Engine, functions: &[OwnFunction]) -> Vec<Description> {
    let mut descriptions = Vec::new();
    let described = |schema: &str, relation: &str, column: usize, text: &str| Description::Relation {
        schema: schema.to_string(),
        relation: relation.to_string(),
        column: i32::try_from(column).unwrap_or(i32::MAX),
        text: text.to_string(),
    };
    for table in &engine.catalog().tables {
        descriptions.push(described(&table.schema, &table.name, 0, &table.description));
        for (position, column) in table.columns.iter().enumerate() {
            descriptions.push(described(&table.schema, &table.name, position + 1, &column.description));
        }
    }
    for view in engine.saved_views() {
        let query = &view.query;
        let text = format!("{}. {}", query.title.trim_end_matches('.'), query.description);
        descriptions.push(described(&query.theme, &query.name, 0, &text));
    }
    for function in functions {
        descriptions.push(Description::Function { oid: function.oid, text: function.description.clone() });
    }
    descriptions.retain(|description| !description.text().trim().is_empty());
    descriptions
}

impl Description {
    fn text(&self) -> &str {
        match self {
            Description::Relation { text, .. } | Description::Function { text, .. } => text,
        }
    }
}

/// pg_description: datafusion-pg-catalog's rows and the warehouse's.
#[derive(Debug)]
pub(crate) struct PgDescription {
    builtin: Arc<dyn TableProvider>,
    pg_catalog: Arc<dyn SchemaProvider>,
    descriptions: Arc<[Description]>,
}

impl PgDescription {
    pub(crate) fn new(
        builtin: Arc<dyn TableProvider>,
        pg_catalog: Arc<dyn SchemaProvider>,
        descriptions: Arc<[Description]>,
    ) -> PgDescription {
        PgDescription { builtin, pg_catalog, descriptions }
    }

    async fn catalog_table(&self, name: &str) -> Result<Arc<dyn TableProvider>> {
        match self.pg_catalog.table(name).await? {
            Some(table) => Ok(table),
            None => plan_err!("pg_catalog.{name} is missing"),
        }
    }

    /// The warehouse's descriptions as rows of pg_description, with the oids pg_class gives.
    async fn warehouse_rows(&self, state: &dyn Session) -> Result<RecordBatch> {
        let namespaces = read_whole(&self.catalog_table("pg_namespace").await?, state).await?;
        let classes = read_whole(&self.catalog_table("pg_class").await?, state).await?;
        let relations = RelationOids::read(&namespaces, &classes)?;
        let class_oid = relations.oid("pg_catalog", "pg_class").unwrap_or(PG_CLASS_OID);
        // (objoid, classoid, objsubid, description) of each description whose object exists.
        let found: Vec<(i32, i32, i32, &str)> = self
            .descriptions
            .iter()
            .filter_map(|description| match description {
                Description::Relation { schema, relation, column, text } => {
                    Some((relations.oid(schema, relation)?, class_oid, *column, text.as_str()))
                }
                Description::Function { oid, text } => Some((*oid, PG_PROC_OID, 0, text.as_str())),
            })
            .collect();
        let columns: HashMap<&str, ArrayRef> = HashMap::from([
            ("objoid", Arc::new(found.iter().map(|row| row.0).collect::<Int32Array>()) as ArrayRef),
            ("classoid", Arc::new(found.iter().map(|row| row.1).collect::<Int32Array>())),
            ("objsubid", Arc::new(found.iter().map(|row| row.2).collect::<Int32Array>())),
            ("description", Arc::new(found.iter().map(|row| Some(row.3)).collect::<StringArray>())),
        ]);
        let schema = self.builtin.schema();
        let mut arrays = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            match columns.get(field.name().as_str()) {
                Some(array) => arrays.push(cast(array, field.data_type())?),
                None => return plan_err!("pg_description has an unexpected column {}", field.name()),
            }
        }
        Ok(RecordBatch::try_new(schema, arrays)?)
    }
}

#[async_trait]
impl TableProvider for PgDescription {
    fn schema(&self) -> SchemaRef {
        self.builtin.schema()
    }

    fn table_type(&self) -> TableType {
        self.builtin.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut batches = read_whole(&self.builtin, state).await?;
        batches.push(self.warehouse_rows(state).await?);
        let table = MemTable::try_new(self.schema(), vec![batches])?;
        table.scan(state, projection, filters, limit).await
    }
}

/// The oid of each relation, by schema and name.
struct RelationOids(HashMap<(String, String), i32>);

impl RelationOids {
    fn read(namespaces: &[RecordBatch], classes: &[RecordBatch]) -> Result<RelationOids> {
        let mut schema_names = HashMap::new();
        for batch in namespaces {
            let (oids, names) = (int32_column(batch, "oid")?, text_column(batch, "nspname")?);
            for row in 0..batch.num_rows() {
                schema_names.insert(oids.value(row), names.value(row).to_string());
            }
        }
        let mut relations = HashMap::new();
        for batch in classes {
            let oids = int32_column(batch, "oid")?;
            let names = text_column(batch, "relname")?;
            let namespaces = int32_column(batch, "relnamespace")?;
            for row in 0..batch.num_rows() {
                if let Some(schema) = schema_names.get(&namespaces.value(row)) {
                    relations.insert((schema.clone(), names.value(row).to_string()), oids.value(row));
                }
            }
        }
        Ok(RelationOids(relations))
    }

    fn oid(&self, schema: &str, relation: &str) -> Option<i32> {
        self.0.get(&(schema.to_string(), relation.to_string())).copied()
    }
}

pub(crate) fn int32_column(batch: &RecordBatch, name: &str) -> Result<Int32Array> {
    let Some(column) = batch.column_by_name(name) else { return plan_err!("pg_catalog has no column {name}") };
    Ok(cast(column, &DataType::Int32)?.as_primitive::<Int32Type>().clone())
}

pub(crate) fn text_column(batch: &RecordBatch, name: &str) -> Result<StringArray> {
    let Some(column) = batch.column_by_name(name) else { return plan_err!("pg_catalog has no column {name}") };
    Ok(cast(column, &DataType::Utf8)?.as_string::<i32>().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_are_found_by_schema_and_name() {
        let namespaces = RecordBatch::try_from_iter([
            ("oid", Arc::new(Int32Array::from(vec![11, 16390])) as ArrayRef),
            ("nspname", Arc::new(StringArray::from(vec!["pg_catalog", "basis"]))),
        ])
        .unwrap();
        let classes = RecordBatch::try_from_iter([
            ("oid", Arc::new(Int32Array::from(vec![16482, 16387, 16400])) as ArrayRef),
            ("relname", Arc::new(StringArray::from(vec!["pg_class", "persoon", "persoon"]))),
            ("relnamespace", Arc::new(Int32Array::from(vec![11, 16390, 99]))),
        ])
        .unwrap();
        let oids = RelationOids::read(&[namespaces], &[classes]).unwrap();
        assert_eq!(oids.oid("basis", "persoon"), Some(16387));
        assert_eq!(oids.oid("pg_catalog", "pg_class"), Some(16482));
        assert_eq!(oids.oid("public", "persoon"), None);
    }
}
