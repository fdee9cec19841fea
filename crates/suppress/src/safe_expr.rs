//! `zicht_safe(...)`: evaluates an expression over protected rows so that no row can make it fail.
//!
//! An error that depends on one row (a regex that does not compile, a negative substring length,
//! an integer overflow, a panic in a function) would tell an analyst one bit about that row: error
//! or not. The analyzer rule wraps every trusted-level expression that is not error-free by
//! construction in this function. It evaluates the expression on the whole batch; if that fails,
//! it evaluates row by row and gives NULL for each row that fails, so the result of a row depends
//! on that row alone and the query itself never fails.

use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, exec_err};
use datafusion::error::Result;
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};

pub(crate) const NAME: &str = "zicht_safe";

#[derive(Debug)]
struct SafeExpr {
    /// The wrapped expression over the columns `c0`, `c1`, ... (the function's arguments).
    inner: Expr,
    schema: SchemaRef,
    return_type: DataType,
    signature: Signature,
    compiled: OnceLock<std::result::Result<Arc<dyn PhysicalExpr>, String>>,
}

/// Wraps `expr` (over `schema`) in `zicht_safe(columns...)`.
pub(crate) fn wrap(expr: Expr, schema: &DFSchema) -> Result<Expr> {
    let return_type = expr.get_type(schema)?;
    let mut columns: Vec<Column> = expr.column_refs().into_iter().cloned().collect();
    columns.sort_by_key(|c| c.flat_name());
    let mut fields = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let data_type = Expr::Column(column.clone()).get_type(schema)?;
        fields.push(Field::new(format!("c{i}"), data_type, true));
    }
    let inner = expr
        .transform_up(|e| match e {
            Expr::Column(column) => {
                let i = columns.iter().position(|c| *c == column).expect("collected above");
                Ok(Transformed::yes(Expr::Column(Column::from_name(format!("c{i}")))))
            }
            other => Ok(Transformed::no(other)),
        })?
        .data;
    let udf = SafeExpr {
        inner,
        schema: Arc::new(Schema::new(fields)),
        return_type,
        signature: Signature::any(columns.len(), Volatility::Immutable),
        compiled: OnceLock::new(),
    };
    let args = columns.into_iter().map(Expr::Column).collect();
    Ok(Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
        Arc::new(ScalarUDF::new_from_impl(udf)),
        args,
    )))
}

impl SafeExpr {
    fn compiled(&self) -> Result<&Arc<dyn PhysicalExpr>> {
        let compiled = self.compiled.get_or_init(|| {
            let schema = DFSchema::try_from(self.schema.as_ref().clone()).map_err(|e| e.to_string())?;
            create_physical_expr(&self.inner, &schema, &ExecutionProps::new(), &Default::default())
                .map_err(|e| e.to_string())
        });
        match compiled {
            Ok(expr) => Ok(expr),
            Err(message) => exec_err!("{NAME}: {message}"),
        }
    }

    /// The expression on a batch, with panics turned into errors.
    fn evaluate(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<ArrayRef> {
        match catch_unwind(AssertUnwindSafe(|| expr.evaluate(batch).and_then(|v| v.into_array(batch.num_rows())))) {
            Ok(result) => result,
            Err(_) => exec_err!("{NAME}: the expression panicked"),
        }
    }

    /// Row by row, NULL where a row fails.
    fn evaluate_rows(&self, expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<ArrayRef> {
        let rows: Vec<ArrayRef> = (0..batch.num_rows())
            .map(|row| {
                Self::evaluate(expr, &batch.slice(row, 1))
                    .ok()
                    .filter(|a| a.len() == 1 && a.data_type() == &self.return_type)
                    .unwrap_or_else(|| new_null_array(&self.return_type, 1))
            })
            .collect();
        let refs: Vec<&dyn datafusion::arrow::array::Array> = rows.iter().map(|a| a.as_ref()).collect();
        if refs.is_empty() {
            return Ok(new_null_array(&self.return_type, 0));
        }
        Ok(datafusion::arrow::compute::concat(&refs)?)
    }
}

impl PartialEq for SafeExpr {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && self.schema == other.schema
    }
}

impl Eq for SafeExpr {}

impl Hash for SafeExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl ScalarUDFImpl for SafeExpr {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let expr = self.compiled()?;
        let rows = args.number_rows;
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)?;
        let result = match Self::evaluate(expr, &batch) {
            Ok(array) if array.data_type() == &self.return_type => array,
            _ => self.evaluate_rows(expr, &batch)?,
        };
        Ok(ColumnarValue::Array(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray, StringArray};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::logical_expr::col;

    #[test]
    fn failing_rows_become_null_and_the_rest_is_computed() {
        let schema = DFSchema::try_from(Schema::new(vec![Field::new("s", DataType::Utf8, true)])).unwrap();
        // The cast fails for the third row only.
        let expr = Expr::Cast(datafusion::logical_expr::Cast::new(Box::new(col("s")), DataType::Int64));
        let wrapped = wrap(expr, &schema).unwrap();
        let Expr::ScalarFunction(function) = wrapped else { panic!("not wrapped") };
        let values = Arc::new(StringArray::from(vec!["1", "0", "three"])) as ArrayRef;
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(values)],
            arg_fields: vec![Arc::new(Field::new("s", DataType::Utf8, true))],
            number_rows: 3,
            return_field: Arc::new(Field::new("r", DataType::Int64, true)),
            config_options: Arc::new(Default::default()),
        };
        let result = function.func.invoke_with_args(args).unwrap().into_array(3).unwrap();
        let result = result.as_primitive::<Int64Type>();
        assert_eq!(result.value(0), 1);
        assert_eq!(result.value(1), 0);
        assert!(result.is_null(2));
    }
}
