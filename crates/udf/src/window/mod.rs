//! Window deviation functions: statistics across the regions of a partition (all rows of the
//! partition, whatever the frame). Each file holds one function; [`PartitionUdf`] is the shared
//! plumbing that hands a formula the whole partition.

mod eb_rate;
mod percentile_rank;
mod robust_z;
mod zscore;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::error::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

pub fn all() -> Vec<WindowUDF> {
    vec![zscore::udwf(), robust_z::udwf(), eb_rate::udwf(), percentile_rank::udwf()]
}

/// A formula over a whole partition: one output per row, NULL where undefined.
pub type PartitionFormula = fn(&[&Float64Array]) -> Vec<Option<f64>>;

#[derive(Debug)]
pub struct PartitionUdf {
    name: &'static str,
    signature: Signature,
    formula: PartitionFormula,
    documentation: Documentation,
}

impl PartitionUdf {
    pub fn udwf(
        name: &'static str,
        arity: usize,
        formula: PartitionFormula,
        documentation: Documentation,
    ) -> WindowUDF {
        let signature = Signature::uniform(arity, vec![DataType::Float64], Volatility::Immutable);
        WindowUDF::new_from_impl(PartitionUdf { name, signature, formula, documentation })
    }
}

impl PartialEq for PartitionUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for PartitionUdf {}

impl Hash for PartitionUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl WindowUDFImpl for PartitionUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(WholePartition { formula: self.formula }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(field_args.name(), DataType::Float64, true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }
}

#[derive(Debug)]
struct WholePartition {
    formula: PartitionFormula,
}

impl PartitionEvaluator for WholePartition {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let columns: Vec<&Float64Array> = values.iter().map(|v| v.as_primitive::<Float64Type>()).collect();
        let result = (self.formula)(&columns);
        Ok(Arc::new(result.into_iter().map(|v| v.filter(|x| x.is_finite())).collect::<Float64Array>()))
    }
}

/// The non-null values of a column.
pub(crate) fn present(column: &Float64Array) -> Vec<f64> {
    column.iter().flatten().collect()
}

/// Median of values (sorted in place); None when empty.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}
