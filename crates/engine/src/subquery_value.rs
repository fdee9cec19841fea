//! `zicht_subquery_value(found)`: the value of a correlated scalar subquery, checked to come from
//! at most one row.
//!
//! Not callable from SQL: the [`crate::scalar_subqueries`] rule calls it in the outer query on
//! what the rewritten subquery found for each outer row, a struct of `value` (the value of its
//! rows) and `rows` (how many there were). It answers `value` when `rows` is 0 or 1 (NULL for
//! none, or when the struct is NULL) and fails with "Scalar subquery returned more than one row"
//! (SQLSTATE 21000, as PostgreSQL) for an outer row whose subquery found more.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::{cast, is_null, nullif};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

/// The function's one instance.
pub(crate) fn subquery_value() -> Arc<ScalarUDF> {
    static UDF: LazyLock<Arc<ScalarUDF>> =
        LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(SubqueryValue::default())));
    Arc::clone(&UDF)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SubqueryValue {
    signature: Signature,
}

impl Default for SubqueryValue {
    fn default() -> Self {
        Self { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for SubqueryValue {
    fn name(&self) -> &str {
        "zicht_subquery_value"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Struct(fields)] if fields.len() == 2 => Ok(fields[0].data_type().clone()),
            _ => exec_err!("zicht_subquery_value takes a struct of a value and a row count"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [found] = args.args.as_slice() else {
            return exec_err!("zicht_subquery_value takes a struct of a value and a row count");
        };
        // A constant is one value, whatever the batch's row count (which may be 0).
        let found_array = match found {
            ColumnarValue::Scalar(scalar) => scalar.to_array_of_size(1)?,
            ColumnarValue::Array(array) => Arc::clone(array),
        };
        let Some(found_rows) = found_array.as_struct_opt() else {
            return exec_err!("zicht_subquery_value takes a struct of a value and a row count");
        };
        let rows = cast(found_rows.column(1), &DataType::Int64)?;
        let several = rows.as_primitive::<Int64Type>().iter().enumerate().any(|(row, rows)| {
            // A NULL struct is an outer row the subquery found nothing for.
            found_rows.is_valid(row) && rows.is_some_and(|rows| rows > 1)
        });
        if several {
            return exec_err!("Scalar subquery returned more than one row");
        }
        let mut values = Arc::clone(found_rows.column(0));
        if found_rows.null_count() > 0 {
            values = nullif(&values, &is_null(found_rows)?)?;
        }
        match found {
            ColumnarValue::Scalar(_) => Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&values, 0)?)),
            ColumnarValue::Array(_) => Ok(ColumnarValue::Array(values)),
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray, StructArray};
    use datafusion::arrow::buffer::NullBuffer;
    use datafusion::arrow::datatypes::{Field, Fields};
    use datafusion::common::config::ConfigOptions;

    use super::*;

    /// Outer rows that found (value, rows); `None` for a NULL struct.
    fn call(found: &[Option<(Option<&str>, i64)>]) -> Result<Vec<Option<String>>> {
        let fields =
            Fields::from(vec![Field::new("value", DataType::Utf8, true), Field::new("rows", DataType::Int64, false)]);
        let values: StringArray = found.iter().map(|f| f.and_then(|(value, _)| value)).collect();
        let rows: Int64Array = found.iter().map(|f| Some(f.map_or(0, |(_, rows)| rows))).collect();
        let nulls = NullBuffer::from(found.iter().map(Option::is_some).collect::<Vec<_>>());
        let columns: Vec<ArrayRef> = vec![Arc::new(values), Arc::new(rows)];
        let found_array = StructArray::new(fields.clone(), columns, Some(nulls));
        let result = subquery_value().invoke_with_args(ScalarFunctionArgs {
            arg_fields: vec![Arc::new(Field::new("found", DataType::Struct(fields), true))],
            return_field: Arc::new(Field::new("value", DataType::Utf8, true)),
            args: vec![ColumnarValue::Array(Arc::new(found_array))],
            number_rows: found.len(),
            config_options: Arc::new(ConfigOptions::default()),
        })?;
        let result = result.to_array(found.len())?;
        Ok(result.as_string::<i32>().iter().map(|value| value.map(str::to_string)).collect())
    }

    #[test]
    fn one_row_or_none_gives_the_value_and_more_are_an_error() {
        let answer = call(&[Some((Some("WK035802"), 1)), Some((None, 0)), None]).unwrap();
        assert_eq!(answer, [Some("WK035802".to_string()), None, None]);
        let error = call(&[Some((Some("WK035802"), 1)), Some((Some("WK035803"), 2))]).unwrap_err();
        assert!(error.to_string().contains("more than one row"), "{error}");
    }

    #[test]
    fn a_constant_is_answered_in_a_batch_of_no_rows() {
        let fields =
            Fields::from(vec![Field::new("value", DataType::Utf8, true), Field::new("rows", DataType::Int64, false)]);
        let columns: Vec<ArrayRef> =
            vec![Arc::new(StringArray::from(vec!["GM0363"])), Arc::new(Int64Array::from(vec![1]))];
        let found = ScalarValue::Struct(Arc::new(StructArray::new(fields.clone(), columns, None)));
        let result = subquery_value()
            .invoke_with_args(ScalarFunctionArgs {
                arg_fields: vec![Arc::new(Field::new("found", DataType::Struct(fields), true))],
                return_field: Arc::new(Field::new("value", DataType::Utf8, true)),
                args: vec![ColumnarValue::Scalar(found)],
                number_rows: 0,
                config_options: Arc::new(ConfigOptions::default()),
            })
            .unwrap();
        let ColumnarValue::Scalar(value) = result else { panic!("a constant gives a constant") };
        assert_eq!(value, ScalarValue::Utf8(Some("GM0363".into())));
    }
}
