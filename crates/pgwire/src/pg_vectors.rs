//! `pg_index`'s, `pg_constraint`'s, `pg_proc`'s and `pg_policy`'s column lists as arrays, as
//! PostgreSQL has them, and `information_schema._pg_expandarray()`.
//!
//! datafusion-pg-catalog serves both tables (PostgreSQL's own system indexes and constraints) with
//! `indkey`, `indclass`, `conkey`, ... as text (`"1 2"`, `"[2, 20, 3]"`). Every client that lists
//! keys or indexes subscripts or unnests them: pgjdbc's `getPrimaryKeys` and `getIndexInfo`
//! (`_pg_expandarray(i.indkey)`), `getImportedKeys` and psqlODBC's `SQLForeignKeys`
//! (`array_lower(conkey, 1)`), psqlODBC's `SQLPrimaryKeys` (`i.indkey[ia.attnum - 1]`),
//! SQLAlchemy's `get_pk_constraint` and `get_indexes` (`unnest(i.indkey)`). Here the pg_catalog
//! schema ([`crate::pg_catalog_schema`]) serves the two tables with those columns as lists of integers (int2vector and int2[]
//! as lists of int2, oidvector and oid[] as lists of the oid columns' int4; a vector's subscripts
//! count from 0 as in PostgreSQL, see [`crate::compat`]). The warehouse's own tables have no
//! indexes or constraints, so clients find none for them, without an error.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, ListArray, ListBuilder, PrimitiveBuilder, RecordBatch, StringArray,
    StringBuilder, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, Field, Fields, Int16Type, Int32Type, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Statement, Value, visit_expressions_mut};

use crate::pg_catalog_schema::{converted_table, in_memory_batches};

/// A table's text columns that hold vectors, each with the integer type of its elements.
pub(crate) type VectorColumns = &'static [(&'static str, DataType)];

static VECTORS: [(&str, VectorColumns); 4] = [
    (
        "pg_index",
        &[
            ("indkey", DataType::Int16),
            ("indcollation", DataType::Int32),
            ("indclass", DataType::Int32),
            ("indoption", DataType::Int16),
        ],
    ),
    (
        "pg_constraint",
        &[
            ("conkey", DataType::Int16),
            ("confkey", DataType::Int16),
            ("conpfeqop", DataType::Int32),
            ("conppeqop", DataType::Int32),
            ("conffeqop", DataType::Int32),
            ("conexclop", DataType::Int32),
        ],
    ),
    (
        // pgcli's function completion: `COALESCE(proallargtypes::regtype[], proargtypes::regtype[])`
        // with `proargnames` and `proargmodes` as arrays; psql's `\df+`: `array_to_string(proacl, ...)`.
        "pg_proc",
        &[
            ("proargtypes", DataType::Int32),
            ("proallargtypes", DataType::Int32),
            ("proargmodes", DataType::Utf8),
            ("proargnames", DataType::Utf8),
            ("proacl", DataType::Utf8),
        ],
    ),
    // psql's `\dp`: `polroles <> '{0}'` and `oid = ANY (polroles)`.
    ("pg_policy", &[("polroles", DataType::Int32)]),
];

/// The tables pg_catalog serves with vector columns as arrays.
pub(crate) fn tables_with_vectors() -> impl Iterator<Item = &'static str> {
    VECTORS.iter().map(|(name, _)| *name)
}

/// A table's vector columns, when pg_catalog serves it with some (pg_index, pg_constraint, pg_proc).
pub(crate) fn vector_columns(table: &str) -> Option<VectorColumns> {
    VECTORS.iter().find(|(name, _)| *name == table).map(|(_, columns)| *columns)
}

/// `table` (datafusion-pg-catalog's in-memory copy of PostgreSQL's `name`) with its vector
/// `columns` as arrays.
pub(crate) async fn with_arrays_table(
    name: &str,
    table: Option<Arc<dyn TableProvider>>,
    columns: VectorColumns,
) -> Result<Arc<dyn TableProvider>> {
    converted_table(name, with_arrays_batches(name, table, columns).await?)
}

/// The batches of [`with_arrays_table`], for a table that adds rows of its own (pg_proc).
pub(crate) async fn with_arrays_batches(
    name: &str,
    table: Option<Arc<dyn TableProvider>>,
    columns: VectorColumns,
) -> Result<Vec<RecordBatch>> {
    let schema = table.as_ref().map(|table| table.schema());
    let mut batches = in_memory_batches(name, table).await?;
    if let (true, Some(schema)) = (batches.is_empty(), schema) {
        // An empty table (pg_policy) still has its shape.
        batches.push(RecordBatch::new_empty(schema));
    }
    batches.iter().map(|batch| with_arrays(batch, columns)).collect()
}

/// `batch` with each of `columns` (text) replaced by a list of elements of the given type.
fn with_arrays(batch: &RecordBatch, columns: &[(&str, DataType)]) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        match columns.iter().find(|(name, _)| name == field.name()) {
            Some((_, element)) => {
                let list = lists(array, element)?;
                fields.push(Field::new(field.name(), list.data_type().clone(), field.is_nullable()));
                arrays.push(list);
            }
            None => {
                fields.push(field.as_ref().clone());
                arrays.push(Arc::clone(array));
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// Text vectors (`"1 2"`, `"[2, 20, 3]"`, `"{1,2}"`, `"['i', 'o']"`) as lists of `element`s.
fn lists(array: &ArrayRef, element: &DataType) -> Result<ArrayRef> {
    let texts = datafusion::arrow::compute::cast(array, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    match element {
        DataType::Int16 => lists_of::<Int16Type>(texts),
        DataType::Utf8 => Ok(text_lists(texts)),
        _ => lists_of::<Int32Type>(texts),
    }
}

/// Lists of names or one-letter modes as datafusion-pg-catalog writes them (`['acl', 'grantor']`):
/// PostgreSQL's names of arguments are identifiers, without commas or quotes.
fn text_lists(texts: &StringArray) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for text in texts.iter() {
        let Some(text) = text else {
            builder.append(false);
            continue;
        };
        let inner = text.trim().trim_start_matches(['[', '{']).trim_end_matches([']', '}']);
        // An unnamed argument is an empty name between its quotes (`''`).
        for quoted in inner.split(',').map(str::trim).filter(|quoted| !quoted.is_empty()) {
            builder.values().append_value(quoted.trim_matches(['\'', '"']));
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

fn lists_of<T: ArrowPrimitiveType>(texts: &StringArray) -> Result<ArrayRef>
where
    T::Native: TryFrom<i64>,
{
    let mut builder = ListBuilder::new(PrimitiveBuilder::<T>::new());
    for text in texts.iter() {
        let Some(text) = text else {
            builder.append(false);
            continue;
        };
        let parts = text.split(|c: char| c == ',' || c.is_whitespace() || "[]{}".contains(c));
        for part in parts.filter(|part| !part.is_empty()) {
            let number = part.parse::<i64>().ok().and_then(|n| T::Native::try_from(n).ok());
            match number {
                Some(number) => builder.values().append_value(number),
                None => return exec_err!("not a vector of {}: {text}", T::DATA_TYPE),
            }
        }
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

/// The name of the list function `_pg_expandarray()` is planned with.
pub(crate) const EXPAND_ARRAY: &str = "zicht_expand_array";

/// `zicht_expand_array(array)`: per element a struct `(x, n)` of its value and its position from
/// 1, as a list. `information_schema._pg_expandarray(array)` (PostgreSQL's set-returning
/// function, one row `(x, n)` per element) is planned as `unnest` of it ([`crate::compat`]).
pub(crate) fn expand_array_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(ExpandArray { signature: Signature::any(1, Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandArray {
    signature: Signature,
}

fn expanded_fields(element: DataType) -> Fields {
    Fields::from(vec![Field::new("x", element, true), Field::new("n", DataType::Int32, false)])
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        EXPAND_ARRAY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arguments: &[DataType]) -> Result<DataType> {
        match arguments {
            [DataType::List(element)] => {
                let entry = DataType::Struct(expanded_fields(element.data_type().clone()));
                Ok(DataType::List(Arc::new(Field::new("item", entry, true))))
            }
            other => plan_err!("_pg_expandarray takes an array, not {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let lists = args.args[0].to_array(args.number_rows)?;
        let lists = lists.as_list::<i32>();
        let offsets = lists.offsets();
        // Each element's position in its own list, from 1.
        let positions: Int32Array = (0..lists.len()).flat_map(|row| 1..=(offsets[row + 1] - offsets[row])).collect();
        let start = offsets[0] as usize;
        let values = lists.values().slice(start, offsets[lists.len()] as usize - start);
        let element = values.data_type().clone();
        let entries = StructArray::try_new(expanded_fields(element), vec![values, Arc::new(positions)], None)?;
        let rebased = OffsetBuffer::new(offsets.iter().map(|&offset| offset - offsets[0]).collect());
        let field = Arc::new(Field::new("item", entries.data_type().clone(), true));
        let list = ListArray::try_new(field, rebased, Arc::new(entries), lists.nulls().cloned())?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}

/// An array literal compared with a vector column is that column's array: psql's `\dp` asks
/// `polroles <> '{0}'`, which PostgreSQL reads as an `oid[]` and DataFusion as text, which it
/// cannot compare with a list. `'{1,2}'` next to `=` or `<>` of a column of integer vectors
/// becomes `ARRAY[1, 2]`.
pub(crate) fn compare_with_array_literals(statements: &mut Vec<Statement>) {
    let _ = visit_expressions_mut(statements, |expr| {
        if let Expr::BinaryOp { left, op: BinaryOperator::Eq | BinaryOperator::NotEq, right } = expr {
            if is_integer_vector_column(left)
                && let Some(array) = integer_array_literal(right)
            {
                **right = array;
            } else if is_integer_vector_column(right)
                && let Some(array) = integer_array_literal(left)
            {
                **left = array;
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Whether `expr` names a column that holds a list of integers in one of the converted tables.
fn is_integer_vector_column(expr: &Expr) -> bool {
    let Some(name) = crate::compat::column_name(expr) else { return false };
    VECTORS.iter().flat_map(|(_, columns)| columns.iter()).any(|(column, element)| {
        name.value.eq_ignore_ascii_case(column) && matches!(element, DataType::Int16 | DataType::Int32)
    })
}

/// `ARRAY[1, 2]` for the text literal `'{1,2}'`.
fn integer_array_literal(expr: &Expr) -> Option<Expr> {
    let Expr::Value(value) = expr else { return None };
    let Value::SingleQuotedString(text) = &value.value else { return None };
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let elements = inner.split(',').map(str::trim).filter(|element| !element.is_empty()).collect::<Vec<_>>();
    if !elements.iter().all(|element| element.parse::<i64>().is_ok()) {
        return None;
    }
    crate::compat::parse_expression(&format!("ARRAY[{}]", elements.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_vectors_become_integer_lists() {
        let texts: ArrayRef =
            Arc::new(StringArray::from(vec![Some("1 2"), Some("[2, 20, 3]"), Some("{7}"), Some(""), None]));
        let lists = super::lists(&texts, &DataType::Int16).unwrap();
        let lists = lists.as_list::<i32>();
        let values = |row: usize| lists.value(row).as_primitive::<Int16Type>().values().to_vec();
        assert_eq!(values(0), [1, 2]);
        assert_eq!(values(1), [2, 20, 3]);
        assert_eq!(values(2), [7]);
        assert!(values(3).is_empty());
        assert!(lists.is_null(4));
        assert!(super::lists(&(Arc::new(StringArray::from(vec!["1 x"])) as ArrayRef), &DataType::Int16).is_err());
    }

    #[test]
    fn text_vectors_of_names_become_text_lists() {
        let texts: ArrayRef =
            Arc::new(StringArray::from(vec![Some("['acl', 'grantor']"), Some("['', 'x']"), Some("[]"), None]));
        let lists = super::lists(&texts, &DataType::Utf8).unwrap();
        let lists = lists.as_list::<i32>();
        let values = |row: usize| -> Vec<String> {
            lists.value(row).as_string::<i32>().iter().map(|name| name.unwrap().to_string()).collect()
        };
        assert_eq!(values(0), ["acl", "grantor"]);
        assert_eq!(values(1), ["", "x"]);
        assert!(values(2).is_empty());
        assert!(lists.is_null(3));
    }

    #[test]
    fn array_literals_next_to_integer_vectors_are_arrays() {
        use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
        use datafusion::sql::sqlparser::parser::Parser;
        let rewritten = |sql: &str| {
            let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
            compare_with_array_literals(&mut statements);
            statements[0].to_string()
        };
        assert_eq!(
            rewritten("SELECT polroles <> '{0}', '{1, 2}' = i.indkey FROM t"),
            "SELECT polroles <> ARRAY[0], ARRAY[1, 2] = i.indkey FROM t"
        );
        let untouched = "SELECT polname <> '{0}', proargnames = '{a}', polroles = '{x}' FROM t";
        assert_eq!(rewritten(untouched), untouched);
    }

    #[tokio::test]
    async fn pg_expandarray_gives_a_row_per_element_with_its_position() {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.register_udf(expand_array_udf());
        let sql = "SELECT k, (unnest(zicht_expand_array(a)))['x'] AS x, (unnest(zicht_expand_array(a)))['n'] AS n \
                   FROM (VALUES (1, [5, 7, 9]), (2, []), (3, [4])) AS t(k, a) ORDER BY k, n";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        let rows: Vec<&str> = text.lines().filter(|line| line.starts_with("| ")).skip(1).collect();
        assert_eq!(rows, ["| 1 | 5 | 1 |", "| 1 | 7 | 2 |", "| 1 | 9 | 3 |", "| 3 | 4 | 1 |"], "{text}");
    }
}
