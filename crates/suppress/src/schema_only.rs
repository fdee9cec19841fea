//! Schema-only probes. BI tools learn a query's columns before they run it, with
//! `SELECT * FROM t LIMIT 0` or `SELECT ... FROM t WHERE 1 <> 1` (Metabase, Power BI, Tableau,
//! JDBC's `getMetaData` on an unexecuted query). Such a statement returns no rows whatever the
//! data holds, so it is answered from its schema alone: the whole plan becomes an empty relation
//! with the same columns, and no row of any table is read. Nothing in the answer (its columns,
//! an error or not, a row or not) can depend on a unit.
//!
//! "Provably" is structural, and fails closed: a `LIMIT 0`, or a filter whose condition folds to
//! false or NULL without looking at a row, reached from the root through operators that turn no
//! rows into no rows (projection, filter, sort, limit, alias, DISTINCT). An aggregate without
//! groups makes a row of nothing (`count(*)` is 0), a union or outer join adds rows of its other
//! side: anything else takes the ordinary path of the suppression layer.

use std::sync::Arc;

use datafusion::common::{DFSchemaRef, ScalarValue};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Distinct, EmptyRelation, Expr, FetchType, LogicalPlan};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;

/// The plan's answer when it provably has no rows: an empty relation of its schema.
pub(crate) fn schema_only(plan: &LogicalPlan) -> Option<LogicalPlan> {
    provably_empty(plan).then(|| {
        LogicalPlan::EmptyRelation(EmptyRelation { produce_one_row: false, schema: Arc::clone(plan.schema()) })
    })
}

fn provably_empty(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Limit(limit) => {
            matches!(limit.get_fetch_type(), Ok(FetchType::Literal(Some(0)))) || provably_empty(&limit.input)
        }
        LogicalPlan::Filter(filter) => {
            never_true(&filter.predicate, filter.input.schema()) || provably_empty(&filter.input)
        }
        LogicalPlan::Projection(projection) => provably_empty(&projection.input),
        LogicalPlan::Sort(sort) => provably_empty(&sort.input),
        LogicalPlan::SubqueryAlias(alias) => provably_empty(&alias.input),
        LogicalPlan::Distinct(Distinct::All(input)) => provably_empty(input),
        LogicalPlan::EmptyRelation(empty) => !empty.produce_one_row,
        _ => false,
    }
}

/// A condition that folds to false or NULL without a row: `1 <> 1`, `false`, `1 = 0 AND x > 3`.
fn never_true(predicate: &Expr, schema: &DFSchemaRef) -> bool {
    let context = SimplifyContext::builder().with_schema(Arc::clone(schema)).build();
    match ExprSimplifier::new(context).simplify(predicate.clone()) {
        Ok(Expr::Literal(value, _)) => {
            matches!(value, ScalarValue::Boolean(Some(false)) | ScalarValue::Boolean(None) | ScalarValue::Null)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::functions_aggregate::count::count_all;
    use datafusion::logical_expr::{LogicalPlanBuilder, col, lit, table_scan};

    use super::*;

    fn table() -> LogicalPlanBuilder {
        let schema = Schema::new(vec![Field::new("inkomen", DataType::Int64, true)]);
        table_scan(Some("p"), &schema, None).unwrap()
    }

    #[test]
    fn limit_zero_and_a_false_condition_are_empty_through_projections_and_sorts() {
        let limited = table().limit(0, Some(0)).unwrap().project(vec![col("inkomen")]).unwrap().build().unwrap();
        let empty = schema_only(&limited).expect("LIMIT 0");
        assert_eq!(empty.schema(), limited.schema());
        let never = lit(1i64).not_eq(lit(1i64)).and(col("inkomen").gt(lit(3i64)));
        let filtered = table().filter(never).unwrap().sort(vec![col("inkomen").sort(true, false)]).unwrap();
        assert!(schema_only(&filtered.build().unwrap()).is_some(), "WHERE 1 <> 1 AND ...");
        let null = table().filter(lit(ScalarValue::Boolean(None))).unwrap().build().unwrap();
        assert!(schema_only(&null).is_some(), "WHERE NULL");
    }

    #[test]
    fn what_could_return_a_row_is_not_schema_only() {
        let some = table().limit(0, Some(1)).unwrap().build().unwrap();
        assert!(schema_only(&some).is_none(), "LIMIT 1");
        let per_row = table().filter(col("inkomen").not_eq(col("inkomen"))).unwrap().build().unwrap();
        assert!(schema_only(&per_row).is_none(), "a condition that looks at the row");
        // count(*) of no rows is a row: 0.
        let counted = table()
            .limit(0, Some(0))
            .unwrap()
            .aggregate(Vec::<Expr>::new(), vec![count_all()])
            .unwrap()
            .build()
            .unwrap();
        assert!(schema_only(&counted).is_none(), "an aggregate without groups");
        let union = table().limit(0, Some(0)).unwrap().union(table().build().unwrap()).unwrap().build().unwrap();
        assert!(schema_only(&union).is_none(), "a union's other side");
    }
}
