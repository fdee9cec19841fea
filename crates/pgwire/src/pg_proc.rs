//! `pg_proc` with the warehouse's own functions: the deviation scores (`deviation_index`, `sir`,
//! `zscore`, ...) as functions of schema `public`, as `CREATE FUNCTION` would have listed them in
//! PostgreSQL, so that psql's `\df`, pgcli's completion and DBeaver's function list show them
//! beside PostgreSQL's own. Their descriptions go to `pg_description` ([`crate::pg_description`]).
//!
//! A row is made from datafusion-pg-catalog's row of `abs(float8)` (a strict, immutable, internal
//! function like these), with the name, namespace, kind, argument names and types and result
//! type replaced. A function whose signature is not a fixed number of arguments of one type is
//! left out rather than listed wrongly.
//!
//! Their namespace is read from pg_namespace when pg_proc is scanned, never when it is looked
//! up: datafusion-pg-catalog's pg_class looks up every table while it holds the lock that
//! pg_namespace's scan takes, so reading pg_namespace during a lookup deadlocks the first
//! `SELECT ... FROM pg_class` of a session.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Int32Array, ListBuilder, RecordBatch, StringArray, StringBuilder, UInt32Array,
};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Documentation, Expr, TypeSignature};
use datafusion::physical_plan::ExecutionPlan;

use crate::pg_catalog_schema::read_whole;
use crate::pg_description::{int32_column, text_column};

/// Oids of the warehouse's functions: far from PostgreSQL's (below 16384) and from those
/// datafusion-pg-catalog gives the warehouse's relations (from 16384, a few hundred).
const FIRST_OID: i32 = 90_000;
/// PostgreSQL's oid of the `public` schema, should the catalog not list one.
const PUBLIC_NAMESPACE: i32 = 2200;

/// One of the warehouse's own functions as pg_proc lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnFunction {
    pub oid: i32,
    pub name: String,
    pub window: bool,
    pub argument_names: Vec<String>,
    pub argument_types: Vec<i32>,
    pub result_type: i32,
    pub description: String,
}

/// The deviation functions of zicht-udf, each with an oid from [`FIRST_OID`].
pub(crate) fn own_functions() -> Vec<OwnFunction> {
    let scalars = zicht_udf::scalar_udfs().into_iter().map(|udf| {
        let arguments = uniform_arguments(udf.signature().type_signature.clone());
        let result =
            arguments.as_ref().and_then(|(count, argument)| udf.return_type(&vec![argument.clone(); *count]).ok());
        (udf.name().to_string(), false, arguments, result, udf.documentation().cloned())
    });
    let windows = zicht_udf::window_udfs().into_iter().map(|udwf| {
        let arguments = uniform_arguments(udwf.signature().type_signature.clone());
        // Every window deviation score is a double precision (see zicht-udf's window module).
        (udwf.name().to_string(), true, arguments, Some(DataType::Float64), udwf.documentation().cloned())
    });
    let mut functions: Vec<OwnFunction> = Vec::new();
    for (name, window, arguments, result, documentation) in scalars.chain(windows) {
        let (Some((count, argument)), Some(result)) = (arguments, result) else { continue };
        let (Some(argument_type), Some(result_type)) = (type_oid(&argument), type_oid(&result)) else { continue };
        let argument_names = argument_names(documentation.as_ref(), count);
        functions.push(OwnFunction {
            oid: FIRST_OID + i32::try_from(functions.len()).unwrap_or(0),
            name,
            window,
            argument_names,
            argument_types: vec![argument_type; count],
            result_type,
            description: documentation.map(|doc| doc.description).unwrap_or_default(),
        });
    }
    functions
}

/// `(count, type)` of a signature of `count` arguments of one type.
fn uniform_arguments(signature: TypeSignature) -> Option<(usize, DataType)> {
    match signature {
        TypeSignature::Uniform(count, types) if types.len() == 1 => Some((count, types[0].clone())),
        _ => None,
    }
}

/// The argument names the documentation gives, when it gives one for each argument.
fn argument_names(documentation: Option<&Documentation>, count: usize) -> Vec<String> {
    let names: Vec<String> = documentation
        .and_then(|doc| doc.arguments.as_ref())
        .map(|arguments| arguments.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_default();
    if names.len() == count { names } else { Vec::new() }
}

/// PostgreSQL's type oid of the types the functions take and give.
fn type_oid(data_type: &DataType) -> Option<i32> {
    Some(match data_type {
        DataType::Boolean => 16,
        DataType::Int64 => 20,
        DataType::Int32 => 23,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => 25,
        DataType::Float64 => 701,
        _ => return None,
    })
}

/// pg_proc: datafusion-pg-catalog's rows (with their vectors as arrays) and the warehouse's own
/// functions after them.
#[derive(Debug)]
pub(crate) struct PgProc {
    builtin: Vec<RecordBatch>,
    schema: SchemaRef,
    namespaces: Arc<dyn TableProvider>,
    functions: Arc<[OwnFunction]>,
}

impl PgProc {
    pub(crate) fn new(
        builtin: Vec<RecordBatch>,
        namespaces: Arc<dyn TableProvider>,
        functions: Arc<[OwnFunction]>,
    ) -> Result<PgProc> {
        let Some(schema) = builtin.first().map(RecordBatch::schema) else {
            return plan_err!("pg_catalog.pg_proc has no rows to take its shape from");
        };
        Ok(PgProc { builtin, schema, namespaces, functions })
    }
}

#[async_trait]
impl TableProvider for PgProc {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
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
        let namespaces = read_whole(&self.namespaces, state).await?;
        let public = namespace_oid(&namespaces, "public")?;
        let batches = with_own_functions(self.builtin.clone(), &self.functions, public)?;
        let table = MemTable::try_new(self.schema(), vec![batches])?;
        table.scan(state, projection, filters, limit).await
    }
}

/// The oid pg_namespace gives `schema` (datafusion-pg-catalog numbers schemas as it first lists them).
fn namespace_oid(namespaces: &[RecordBatch], schema: &str) -> Result<Option<i32>> {
    for batch in namespaces {
        let (oids, names) = (int32_column(batch, "oid")?, text_column(batch, "nspname")?);
        if let Some(row) = (0..batch.num_rows()).find(|&row| names.value(row) == schema) {
            return Ok(Some(oids.value(row)));
        }
    }
    Ok(None)
}

/// `batches` of pg_proc (with its vectors as arrays, [`crate::pg_vectors`]) and a batch of
/// `functions` after them, in the namespace `public` (its oid in pg_namespace).
fn with_own_functions(
    mut batches: Vec<RecordBatch>,
    functions: &[OwnFunction],
    public: Option<i32>,
) -> Result<Vec<RecordBatch>> {
    if functions.is_empty() {
        return Ok(batches);
    }
    let Some((template, row)) = batches.iter().find_map(|batch| template_row(batch).map(|row| (batch, row))) else {
        return plan_err!(
            "pg_catalog.pg_proc has no row of abs(double precision) to make the warehouse's functions from"
        );
    };
    let repeated = UInt32Array::from(vec![row; functions.len()]);
    let schema = template.schema();
    let mut arrays = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(template.columns()) {
        let array = match own_column(field.name(), functions, public.unwrap_or(PUBLIC_NAMESPACE)) {
            Some(own) => cast(&own, field.data_type())?,
            None => take(column.as_ref(), &repeated, None)?,
        };
        arrays.push(array);
    }
    batches.push(RecordBatch::try_new(schema, arrays)?);
    Ok(batches)
}

/// The row of `abs(float8)`, if `batch` has it.
fn template_row(batch: &RecordBatch) -> Option<u32> {
    let (names, results) = (text_column(batch, "proname").ok()?, int32_column(batch, "prorettype").ok()?);
    (0..batch.num_rows())
        .find(|&row| names.value(row) == "abs" && results.value(row) == 701)
        .and_then(|row| u32::try_from(row).ok())
}

/// The column `name` of the functions' rows, where it is not the template's.
fn own_column(name: &str, functions: &[OwnFunction], public: i32) -> Option<ArrayRef> {
    let ints =
        |value: fn(&OwnFunction) -> i32| Arc::new(functions.iter().map(value).collect::<Int32Array>()) as ArrayRef;
    Some(match name {
        "oid" => ints(|f| f.oid),
        "pronamespace" => Arc::new(Int32Array::from(vec![public; functions.len()])),
        "prorettype" => ints(|f| f.result_type),
        "pronargs" => ints(|f| i32::try_from(f.argument_types.len()).unwrap_or(0)),
        "proname" | "prosrc" => Arc::new(functions.iter().map(|f| Some(f.name.as_str())).collect::<StringArray>()),
        "prokind" => {
            Arc::new(functions.iter().map(|f| Some(if f.window { "w" } else { "f" })).collect::<StringArray>())
        }
        "proargtypes" => {
            let mut builder = ListBuilder::new(datafusion::arrow::array::Int32Builder::new());
            for function in functions {
                builder.append_value(function.argument_types.iter().map(|oid| Some(*oid)));
            }
            Arc::new(builder.finish())
        }
        "proargnames" => {
            let mut builder = ListBuilder::new(StringBuilder::new());
            for function in functions {
                let names = &function.argument_names;
                builder.append_option((!names.is_empty()).then(|| names.iter().map(Some)));
            }
            Arc::new(builder.finish())
        }
        // Only input arguments, no variadic one: PostgreSQL leaves these NULL.
        "proallargtypes" | "proargmodes" => datafusion::arrow::array::new_null_array(&DataType::Null, functions.len()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deviation_functions_are_listed_with_their_signatures() {
        let functions = own_functions();
        let index = functions.iter().find(|f| f.name == "deviation_index").expect("deviation_index");
        assert_eq!(index.argument_types, [701; 4]);
        assert_eq!(index.argument_names, ["num", "den", "ref_num", "ref_den"]);
        assert_eq!((index.result_type, index.window), (701, false));
        assert!(index.description.contains("reference rate"), "{}", index.description);
        let class = functions.iter().find(|f| f.name == "deviation_class").expect("deviation_class");
        assert_eq!(class.result_type, 25);
        let zscore = functions.iter().find(|f| f.name == "zscore").expect("zscore");
        assert!(zscore.window);
        let oids: std::collections::HashSet<i32> = functions.iter().map(|f| f.oid).collect();
        assert_eq!(oids.len(), functions.len());
        assert_eq!(functions.len(), 12);
    }
}
