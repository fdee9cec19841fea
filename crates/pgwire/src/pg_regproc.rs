//! `pg_type`'s function columns (`typinput`, `typreceive`, ...) as the oids of their functions,
//! as PostgreSQL's `regproc` columns are.
//!
//! datafusion-pg-catalog serves them as the functions' names. Clients join and compare them as
//! oids: Npgsql's type loading (what Power BI's connector runs on every connection) joins
//! `pg_proc AS proc ON proc.oid = typ.typreceive`, pgjdbc asks `typinput =
//! 'pg_catalog.array_in'::regproc`, asyncpg `typreceive::oid != 0`. A name becomes the oid of the
//! pg_proc row of that name (the lowest, should there be several); `-` (no function) becomes 0.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int32Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::plan_err;
use datafusion::error::Result;

use crate::pg_catalog_schema::{converted_table, in_memory_batches};

/// pg_type's columns of type regproc.
const FUNCTION_COLUMNS: [&str; 7] =
    ["typinput", "typoutput", "typreceive", "typsend", "typmodin", "typmodout", "typanalyze"];

/// `pg_type` (datafusion-pg-catalog's in-memory table) with its function columns as oids of
/// `pg_proc`'s rows.
pub(crate) async fn pg_type_with_function_oids(
    pg_type: Option<Arc<dyn TableProvider>>,
    pg_proc: Option<Arc<dyn TableProvider>>,
) -> Result<Arc<dyn TableProvider>> {
    let functions = function_oids(&in_memory_batches("pg_proc", pg_proc).await?)?;
    let batches = in_memory_batches("pg_type", pg_type).await?;
    let converted = batches.iter().map(|batch| with_function_oids(batch, &functions)).collect::<Result<Vec<_>>>()?;
    converted_table("pg_type", converted)
}

/// Each function's name with its (lowest) oid.
fn function_oids(pg_proc: &[RecordBatch]) -> Result<HashMap<String, i32>> {
    let mut oids = HashMap::new();
    for batch in pg_proc {
        let (Some(oid), Some(name)) = (batch.column_by_name("oid"), batch.column_by_name("proname")) else {
            return plan_err!("pg_catalog.pg_proc has no oid and proname");
        };
        let oid = cast(oid, &DataType::Int32)?;
        let name = cast(name, &DataType::Utf8)?;
        for (oid, name) in oid.as_primitive::<Int32Type>().iter().zip(name.as_string::<i32>().iter()) {
            if let (Some(oid), Some(name)) = (oid, name) {
                oids.entry(name.to_string()).and_modify(|lowest: &mut i32| *lowest = (*lowest).min(oid)).or_insert(oid);
            }
        }
    }
    Ok(oids)
}

fn with_function_oids(batch: &RecordBatch, functions: &HashMap<String, i32>) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if FUNCTION_COLUMNS.contains(&field.name().as_str()) && field.data_type() != &DataType::Int32 {
            let names = cast(column, &DataType::Utf8)?;
            let oids: Int32Array = names
                .as_string::<i32>()
                .iter()
                .map(|name| Some(name.and_then(|name| functions.get(name).copied()).unwrap_or(0)))
                .collect();
            fields.push(Field::new(field.name(), DataType::Int32, false));
            columns.push(Arc::new(oids));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())), columns)?)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;

    use super::*;

    #[test]
    fn function_names_become_their_oids_and_no_function_zero() {
        let pg_proc = RecordBatch::try_from_iter([
            ("oid", Arc::new(Int32Array::from(vec![2400, 750, 2436, 9999])) as ArrayRef),
            ("proname", Arc::new(StringArray::from(vec!["array_recv", "array_in", "boolrecv", "array_in"]))),
        ])
        .unwrap();
        let functions = function_oids(&[pg_proc]).unwrap();
        let pg_type = RecordBatch::try_from_iter([
            ("typname", Arc::new(StringArray::from(vec!["_int4", "bool"])) as ArrayRef),
            ("typinput", Arc::new(StringArray::from(vec!["array_in", "-"]))),
            ("typreceive", Arc::new(StringArray::from(vec!["array_recv", "boolrecv"]))),
        ])
        .unwrap();
        let converted = with_function_oids(&pg_type, &functions).unwrap();
        let oids =
            |column: &str| converted.column_by_name(column).unwrap().as_primitive::<Int32Type>().values().to_vec();
        assert_eq!(oids("typinput"), [750, 0]);
        assert_eq!(oids("typreceive"), [2400, 2436]);
        assert_eq!(converted.column_by_name("typname").unwrap().data_type(), &DataType::Utf8);
    }
}
