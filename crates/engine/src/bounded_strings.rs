//! `repeat`, `lpad` and `rpad` with a bound on what they build.
//!
//! DataFusion's versions allocate whatever length they are asked for: `repeat('x', 2147483647)`
//! builds two gigabytes while the statement is planned (constant folding) or run, outside the
//! memory pool, and one such statement per connection takes the machine down. These wrappers
//! refuse, before any allocation, a call whose results would together exceed
//! [`MAX_BUILT_BYTES`] (SQLSTATE 54000, as PostgreSQL refuses lengths beyond 1 GB).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::length::length;
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;

/// The most bytes one call may build, over all the rows of its batch.
pub const MAX_BUILT_BYTES: i64 = 64 << 20;

/// Replaces the session's `repeat`, `lpad` and `rpad` with bounded ones.
pub(crate) fn register(ctx: &SessionContext) {
    let state = ctx.state();
    for (name, scaled_by_input) in [("repeat", true), ("lpad", false), ("rpad", false)] {
        if let Some(inner) = state.scalar_functions().get(name) {
            let bounded = BoundedLength { inner: Arc::clone(inner), scaled_by_input };
            ctx.register_udf(ScalarUDF::new_from_impl(bounded));
        }
    }
}

/// A string function whose second argument is a length.
#[derive(Debug, PartialEq, Eq, Hash)]
struct BoundedLength {
    inner: Arc<ScalarUDF>,
    /// `repeat`: the result is the input that many times; `lpad`/`rpad`: that many characters.
    scaled_by_input: bool,
}

impl BoundedLength {
    /// Refuses the call if its results would exceed [`MAX_BUILT_BYTES`] (characters count four
    /// bytes, their most in UTF-8).
    fn check(&self, args: &[ColumnarValue], rows: usize) -> Result<()> {
        let (Some(input), Some(count)) = (args.first(), args.get(1)) else { return Ok(()) };
        let counts = cast(&count.to_array(rows)?, &DataType::Int64)?;
        let counts = counts.as_primitive::<Int64Type>();
        // Bytes per unit of the count: the input's length for repeat, four for a padded character.
        let lengths = match self.scaled_by_input {
            true => Some(cast(&length(&input.to_array(rows)?)?, &DataType::Int64)?),
            false => None,
        };
        let lengths = lengths.as_ref().map(|lengths| lengths.as_primitive::<Int64Type>());
        let built = counts.iter().enumerate().fold(0i64, |total, (row, count)| {
            let unit = lengths.map_or(4, |lengths| if lengths.is_null(row) { 0 } else { lengths.value(row) });
            total.saturating_add(unit.saturating_mul(count.unwrap_or(0).max(0)))
        });
        if built > MAX_BUILT_BYTES {
            return exec_err!(
                "requested length too large: {}() would build {built} bytes; the limit is {MAX_BUILT_BYTES}",
                self.inner.name()
            );
        }
        Ok(())
    }
}

impl ScalarUDFImpl for BoundedLength {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner.simplify(args, info)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.check(&args.args, args.number_rows)?;
        self.inner.invoke_with_args(args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::ScalarValue;

    fn int(value: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(value)))
    }

    fn bounded(name: &str) -> BoundedLength {
        let ctx = SessionContext::new();
        let inner = Arc::clone(ctx.state().scalar_functions().get(name).unwrap());
        BoundedLength { inner, scaled_by_input: name == "repeat" }
    }

    fn text(value: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(value.to_string())))
    }

    #[test]
    fn small_results_pass_and_huge_ones_are_refused_before_they_are_built() {
        let repeat = bounded("repeat");
        assert!(repeat.check(&[text("ab"), int(1000)], 1).is_ok());
        assert!(repeat.check(&[text("x"), int(2_147_483_647)], 1).is_err());
        assert!(repeat.check(&[text("xy"), int(40 << 20)], 1).is_err());
        // Many rows of a modest length add up.
        assert!(repeat.check(&[text("x"), int(1 << 20)], 100).is_err());
        let lpad = bounded("lpad");
        assert!(lpad.check(&[text("x"), int(10), text("0")], 8192).is_ok());
        assert!(lpad.check(&[text("x"), int(2_147_483_647)], 1).is_err());
    }
}
