//! `json_build_object(key, value, ...)`: a JSON object of alternating keys and values, as
//! PostgreSQL builds it. SQLAlchemy's inspector builds each column's identity options with it
//! (`get_columns`, `Table(autoload_with=...)`), and Superset's column reflection too. The result is
//! JSON text; values keep their JSON kind (numbers, booleans, null), everything else is a string.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use crate::catalog::function_result;

pub fn json_build_object_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(JsonBuildObject {
        signature: Signature::one_of(vec![TypeSignature::Nullary, TypeSignature::VariadicAny], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.len().is_multiple_of(2) {
            return plan_err!("argument list must have even number of elements");
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays: Vec<ArrayRef> = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            let mut members = Vec::with_capacity(arrays.len() / 2);
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                if key.is_null() {
                    return exec_err!("null value not allowed for object key");
                }
                let value = ScalarValue::try_from_array(&pair[1], row)?;
                members.push(format!("{} : {}", json_string(&text_of(&key)), json_value(&value)));
            }
            out.append_value(format!("{{{}}}", members.join(", ")));
        }
        function_result(&args.args, Arc::new(out.finish()))
    }
}

/// A scalar as SQL text (`Utf8` without quotes, numbers as written).
fn text_of(value: &ScalarValue) -> String {
    match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as JSON: null, a boolean, a number, or a string.
fn json_value(value: &ScalarValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    match value {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Float32(Some(f)) if !f.is_finite() => json_string(&f.to_string()),
        ScalarValue::Float64(Some(f)) if !f.is_finite() => json_string(&f.to_string()),
        v if v.data_type().is_numeric() => v.to_string(),
        other => json_string(&text_of(other)),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_json_kind() {
        assert_eq!(json_value(&ScalarValue::Int64(Some(7))), "7");
        assert_eq!(json_value(&ScalarValue::Boolean(Some(false))), "false");
        assert_eq!(json_value(&ScalarValue::Int32(None)), "null");
        assert_eq!(json_value(&ScalarValue::Utf8(Some("a\"b".into()))), r#""a\"b""#);
        assert_eq!(json_value(&ScalarValue::Float64(Some(f64::NAN))), r#""NaN""#);
    }
}
