//! `deviation_class(index, lower, upper)`: a label for dashboards.

use datafusion::logical_expr::{Documentation, ScalarUDF};

use super::{DOC_SECTION, Formula, MathUdf};

/// On the index scale (100 = reference): significant when the interval excludes 100; otherwise
/// 'hoger' from 110 up, 'lager' from 90 down.
pub fn class(v: &[f64]) -> Option<&'static str> {
    let (index, lower, upper) = (v[0], v[1], v[2]);
    Some(if lower > 100.0 {
        "significant hoger"
    } else if upper < 100.0 {
        "significant lager"
    } else if index >= 110.0 {
        "hoger"
    } else if index <= 90.0 {
        "lager"
    } else {
        "rond gemiddelde"
    })
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOC_SECTION,
        "Classifies a deviation index (100 = the reference) with its confidence limits on the same \
         scale: 'significant hoger' when lower > 100, 'significant lager' when upper < 100, else \
         'hoger' (index >= 110), 'lager' (index <= 90) or 'rond gemiddelde'. Multiply sir limits \
         by 100 to use them here. NULL when any input is NULL.",
        "deviation_class(index, lower, upper)",
    )
    .with_argument("index", "Deviation index, 100 = reference.")
    .with_argument("lower", "Lower confidence limit on the index scale.")
    .with_argument("upper", "Upper confidence limit on the index scale.")
    .with_sql_example("SELECT deviation_class(150, 101.2, 214.1); -- 'significant hoger'")
    .build();
    MathUdf::udf("deviation_class", 3, Formula::Label(class), doc)
}
