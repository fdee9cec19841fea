//! Scalar deviation functions. Each file holds one function: its formula, arity and
//! documentation; [`MathUdf`] is the shared plumbing that applies a formula row by row.

mod deviation_class;
mod deviation_index;
mod poisson_z;
mod sir;
mod sir_lower;
mod sir_upper;
mod wilson_lower;
mod wilson_upper;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::special::two_sided_normal_quantile;

pub fn all() -> Vec<ScalarUDF> {
    vec![
        deviation_index::udf(),
        sir::udf(),
        sir_lower::udf(),
        sir_upper::udf(),
        poisson_z::udf(),
        wilson_lower::udf(),
        wilson_upper::udf(),
        deviation_class::udf(),
    ]
}

pub(crate) const DOC_SECTION: DocSection =
    DocSection { include: true, label: "Deviation scores", description: Some("Zicht op deviation scores") };

/// What a formula returns for one row.
#[derive(Debug, Clone, Copy)]
pub enum Formula {
    Number(fn(&[f64]) -> Option<f64>),
    Label(fn(&[f64]) -> Option<&'static str>),
    /// A confidence limit of a ratio, `quantile(observed, conf) / expected`, for arguments
    /// (observed, expected, conf). The quantile is what costs, and its two arguments repeat
    /// (counts are small integers, conf a constant), so each distinct pair is computed once per
    /// batch.
    Limit(fn(f64, f64) -> Option<f64>),
}

/// A function of `arity` numeric arguments (coerced to Float64), NULL in, NULL out.
#[derive(Debug)]
pub struct MathUdf {
    name: &'static str,
    signature: Signature,
    formula: Formula,
    documentation: Documentation,
}

impl MathUdf {
    pub fn udf(name: &'static str, arity: usize, formula: Formula, documentation: Documentation) -> ScalarUDF {
        let signature = Signature::uniform(arity, vec![DataType::Float64], Volatility::Immutable);
        ScalarUDF::new_from_impl(MathUdf { name, signature, formula, documentation })
    }
}

impl PartialEq for MathUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for MathUdf {}

impl Hash for MathUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for MathUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.formula {
            Formula::Number(_) | Formula::Limit(_) => DataType::Float64,
            Formula::Label(_) => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let columns: Vec<&Float64Array> = arrays.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        let rows = columns.first().map_or(0, |c| c.len());
        let mut row = vec![0.0; columns.len()];
        // Fills `row` with row i's arguments; false when one of them is NULL.
        let fill = |i: usize, row: &mut [f64]| {
            for (slot, column) in row.iter_mut().zip(&columns) {
                if column.is_null(i) {
                    return false;
                }
                *slot = column.value(i);
            }
            true
        };
        let result: ArrayRef = match self.formula {
            Formula::Number(f) => Arc::new(
                (0..rows)
                    .map(|i| fill(i, &mut row).then(|| f(&row)).flatten().filter(|v| v.is_finite()))
                    .collect::<Float64Array>(),
            ),
            Formula::Limit(quantile) => {
                let mut known: HashMap<(u64, u64), Option<f64>> = HashMap::new();
                let mut limit = |v: &[f64]| {
                    let (observed, expected, conf) = (v[0], v[1], v[2]);
                    let q =
                        *known.entry((observed.to_bits(), conf.to_bits())).or_insert_with(|| quantile(observed, conf));
                    q.filter(|_| expected > 0.0).map(|q| q / expected)
                };
                Arc::new(
                    (0..rows)
                        .map(|i| fill(i, &mut row).then(|| limit(&row)).flatten().filter(|v| v.is_finite()))
                        .collect::<Float64Array>(),
                )
            }
            Formula::Label(f) => {
                Arc::new((0..rows).map(|i| fill(i, &mut row).then(|| f(&row)).flatten()).collect::<StringArray>())
            }
        };
        if all_scalar {
            if result.len() != 1 {
                return exec_err!("{}: expected one value for scalar arguments", self.name);
            }
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?));
        }
        Ok(ColumnarValue::Array(result))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

/// The confidence level as alpha, or None outside (0, 1).
pub(crate) fn alpha(conf: f64) -> Option<f64> {
    (conf > 0.0 && conf < 1.0).then_some(1.0 - conf)
}

/// Wilson score interval of k successes in n: (lower, upper), None when undefined.
pub(crate) fn wilson(k: f64, n: f64, conf: f64) -> Option<(f64, f64)> {
    if alpha(conf).is_none() || !(n > 0.0 && (0.0..=n).contains(&k)) {
        return None;
    }
    let z = two_sided_normal_quantile(conf);
    let p = k / n;
    let z2 = z * z;
    // The limits are (c -+ h) / (1 + z²/n) with c = p + z²/2n; c - h cancels when k is small
    // next to z², so the lower limit uses (c - h)(c + h) = p² (1 + z²/n) instead.
    let centre = p + z2 / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some((p * p / (centre + half), ((centre + half) / (1.0 + z2 / n)).min(1.0)))
}
