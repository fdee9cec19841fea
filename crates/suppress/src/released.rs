//! `zicht_released(key, shown)`: a group key of a protecting aggregation as the query above it
//! sees it: the key when its group is released, NULL when it is not. Marked volatile.
//!
//! Two things would otherwise put an analyst's expression on values the rules withhold. DataFusion's
//! optimizer runs after the analyzer rule and pushes a filter on group keys down through an
//! aggregate, onto the protected rows; a volatile expression is never pushed through, so every
//! filter written above the aggregation stays above it. And the physical planner may merge that
//! filter with the one that drops suppressed groups, evaluating it on their keys too (a key of a
//! suppressed group is one unit's value, and an expression that fails on it is an oracle); those
//! keys are NULL here.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, BooleanArray, new_null_array};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const NAME: &str = "zicht_released";

#[derive(Debug, PartialEq, Eq, Hash)]
struct Released {
    signature: Signature,
}

impl ScalarUDFImpl for Released {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [key, shown] = args.args.as_slice() else { return exec_err!("{NAME} takes a key and a flag") };
        let rows = args.number_rows;
        let (key, shown) = (key.to_array(rows)?, shown.to_array(rows)?);
        let shown = shown.as_boolean();
        // NULL where the group is not shown (a NULL flag counts as not shown).
        let keep = BooleanArray::from_iter((0..rows).map(|i| Some(shown.is_valid(i) && shown.value(i))));
        let hidden = new_null_array(key.data_type(), rows);
        Ok(ColumnarValue::Array(zip(&keep, &key, &hidden)?))
    }
}

static RELEASED: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::new_from_impl(Released { signature: Signature::any(2, Volatility::Volatile) }))
});

/// The function itself, for the registry of a cluster worker, which decodes plan fragments that
/// use it by its name.
pub fn released_function() -> Arc<ScalarUDF> {
    Arc::clone(&RELEASED)
}

/// `key` behind the barrier, NULL where `shown` is not true.
pub(crate) fn released(key: Expr, shown: Expr) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(&RELEASED), vec![key, shown]))
}
