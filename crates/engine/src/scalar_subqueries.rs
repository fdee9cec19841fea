//! Correlated scalar subqueries answered as PostgreSQL answers them.
//!
//! PostgreSQL evaluates `(SELECT w.wk_code FROM regio.wijk w WHERE w.gm_code = g.gm_code)` for
//! each outer row: NULL when it finds no row, the value when it finds one, SQLSTATE 21000 when it
//! finds more. DataFusion plans a correlated scalar subquery as a join on its correlation keys
//! and accepts only one that aggregates (one row per key); it refuses the rest. This analyzer rule
//! makes every other correlated scalar subquery aggregate: it finds the value of its rows and how
//! many there are, and the outer query takes the value through
//! [`subquery_value`](crate::subquery_value), which fails with 21000 for an outer row whose
//! subquery found more than one (only for such a row, as in PostgreSQL: not for a key no outer
//! row asks for). Client tools' catalog queries are full of these (Npgsql's type loading,
//! SQLAlchemy's reflection).
//!
//! An uncorrelated scalar subquery is left to DataFusion, which runs it once and checks its rows,
//! unless its column cannot be NULL: DataFusion then declares the outer column non-nullable too
//! and fails with an internal error when the subquery finds no row (`SELECT (SELECT gm_code FROM
//! regio.gemeente WHERE false)`), where PostgreSQL answers NULL. Such a subquery is checked the
//! same way, which makes its value nullable.
//!
//! The rule runs after the suppression layer's: that one has already refused subqueries that
//! select rows of protected tables, so what is aggregated here is public rows or released cells.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result};
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::functions_aggregate::expr_fn::{count, first_value};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use datafusion::logical_expr::{Expr, Filter, LogicalPlan, LogicalPlanBuilder, Projection, Subquery, lit, when};
use datafusion::optimizer::AnalyzerRule;

use crate::subquery_value::subquery_value;

/// Makes each scalar subquery that needs it aggregate (see the module's docs), and checks what it
/// found where the outer query uses it.
#[derive(Debug, Default)]
pub(crate) struct ScalarSubqueries;

impl AnalyzerRule for ScalarSubqueries {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(check_subqueries_of).map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "scalar_subqueries"
    }
}

/// `node` with its expressions' correlated scalar subqueries checked, its columns' names kept.
fn check_subqueries_of(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let names = NamePreserver::new(&node);
    let checked = node.map_expressions(|expr| {
        let name = names.save(&expr);
        let checked = expr.transform_up(|expr| match expr {
            Expr::ScalarSubquery(subquery) if needs_checking(&subquery) => Ok(Transformed::yes(checked(subquery)?)),
            other => Ok(Transformed::no(other)),
        })?;
        Ok(checked.update_data(|expr| name.restore(expr)))
    })?;
    // The subquery's value may be NULL now where its column was not.
    match checked.transformed {
        true => Ok(Transformed::yes(checked.data.recompute_schema()?)),
        false => Ok(checked),
    }
}

/// Correlated and not known to give at most one row (an aggregate without groups, `LIMIT 1`), or
/// uncorrelated with a column that cannot be NULL and not known to give exactly one row.
fn needs_checking(subquery: &Subquery) -> bool {
    let plan = subquery.subquery.as_ref();
    match subquery.outer_ref_columns.is_empty() {
        false => plan.max_rows().is_none_or(|rows| rows > 1),
        true => !plan.schema().field(0).is_nullable() && !exactly_one_row(plan),
    }
}

/// An aggregate without groups, under projections and aliases.
fn exactly_one_row(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Projection(projection) => exactly_one_row(&projection.input),
        LogicalPlan::SubqueryAlias(alias) => exactly_one_row(&alias.input),
        LogicalPlan::Aggregate(aggregate) => aggregate.group_expr.is_empty(),
        _ => false,
    }
}

/// `zicht_subquery_value((SELECT named_struct('value', first_value(v), 'rows', count(*)) FROM
/// (subquery)))`, under `CASE WHEN c THEN ... END` for the conditions `c` of its filter that only
/// read the outer row (see [`outer_conditions`]).
fn checked(subquery: Subquery) -> Result<Expr> {
    let (plan, outer_only) = outer_conditions(Arc::unwrap_or_clone(subquery.subquery))?;
    let (plan, pulled_up) = outer_references_pulled_up(plan)?;
    let (qualifier, field) = plan.schema().qualified_field(0);
    let value = Expr::Column(Column::new(qualifier.cloned(), field.name()));
    let found = named_struct(vec![lit("value"), first_value(value, vec![]), lit("rows"), count(lit(1i64))]);
    let aggregated =
        LogicalPlanBuilder::from(plan).aggregate(Vec::<Expr>::new(), vec![found.alias("zicht_found")])?.build()?;
    let outer_ref_columns = aggregated.all_out_ref_exprs();
    let subquery = Subquery { subquery: Arc::new(aggregated), outer_ref_columns, spans: subquery.spans };
    let mut value = subquery_value().call(vec![Expr::ScalarSubquery(subquery)]);
    if let Some(pulled_up) = pulled_up {
        value = pulled_up.computed_from(value)?;
    }
    Ok(match conjunction(outer_only) {
        Some(condition) => when(condition, value).end()?,
        None => value,
    })
}

/// `plan` without the conditions of the filter below its projections that read only the outer
/// row (psql's and SQLAlchemy's column defaults: `WHERE d.adrelid = a.attrelid AND ... AND
/// a.atthasdef`), and those conditions on the outer row's columns. DataFusion cannot turn a
/// subquery with such a condition into a join; where it is false the subquery finds no row, so
/// the outer query can test it instead.
fn outer_conditions(plan: LogicalPlan) -> Result<(LogicalPlan, Vec<Expr>)> {
    match plan {
        LogicalPlan::Projection(projection) => {
            let (input, outer_only) = outer_conditions(Arc::unwrap_or_clone(projection.input))?;
            let projection = Projection::try_new(projection.expr, Arc::new(input))?;
            Ok((LogicalPlan::Projection(projection), outer_only))
        }
        LogicalPlan::Filter(filter) => {
            let (outer_only, inner): (Vec<_>, Vec<_>) =
                split_conjunction_owned(filter.predicate).into_iter().partition(reads_only_the_outer_row);
            let input = match conjunction(inner) {
                Some(predicate) => LogicalPlan::Filter(Filter::try_new(predicate, filter.input)?),
                None => Arc::unwrap_or_clone(filter.input),
            };
            Ok((input, outer_only.into_iter().map(as_outer_columns).collect::<Result<_>>()?))
        }
        other => Ok((other, vec![])),
    }
}

/// A subquery value that reads the outer row (SQLAlchemy's column identity:
/// `(SELECT json_build_object('always', a.attidentity = 'a', 'start', s.seqstart, ...) FROM
/// pg_sequence s WHERE ...)`), computed by the outer query: the subquery finds the values of its
/// own columns that the expression reads, as one struct; the outer query computes the
/// expression from them and the outer row, NULL where the subquery found no row. DataFusion cannot
/// join a subquery with outer references in its select list where it stands under a CASE.
struct PulledUp {
    /// The subquery's value.
    expr: Expr,
    /// The subquery's columns it reads, in the order of the struct's fields.
    columns: Vec<Column>,
}

/// `plan` (a subquery) finding the struct of its columns its value reads, and what the outer
/// query computes from that struct, when its value reads the outer row; `plan` as it is otherwise.
fn outer_references_pulled_up(plan: LogicalPlan) -> Result<(LogicalPlan, Option<PulledUp>)> {
    let LogicalPlan::Projection(projection) = &plan else { return Ok((plan, None)) };
    let [value] = projection.expr.as_slice() else { return Ok((plan, None)) };
    if !reads_the_outer_row(value) {
        return Ok((plan, None));
    }
    let value = value.clone().unalias();
    let mut columns: Vec<Column> = value.column_refs().into_iter().cloned().collect();
    columns.sort_by_key(|column| column.flat_name());
    let mut fields: Vec<Expr> = Vec::new();
    for (position, column) in columns.iter().enumerate() {
        fields.extend([lit(format!("c{position}")), Expr::Column(column.clone())]);
    }
    if fields.is_empty() {
        // The value reads only the outer row; the struct says whether there was a row.
        fields.extend([lit("found"), lit(true)]);
    }
    let input = Arc::clone(&projection.input);
    let found = Projection::try_new(vec![named_struct(fields).alias("zicht_columns")], input)?;
    Ok((LogicalPlan::Projection(found), Some(PulledUp { expr: value, columns })))
}

impl PulledUp {
    /// The value computed from `found`, the struct the subquery found (NULL for no row).
    fn computed_from(self, found: Expr) -> Result<Expr> {
        let columns = self.columns;
        let computed = self
            .expr
            .transform(|expr| match expr {
                Expr::Column(column) => match columns.iter().position(|own| *own == column) {
                    Some(position) => Ok(Transformed::yes(get_field(found.clone(), format!("c{position}")))),
                    None => Ok(Transformed::no(Expr::Column(column))),
                },
                Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(Expr::Column(column))),
                other => Ok(Transformed::no(other)),
            })?
            .data;
        when(found.is_not_null(), computed).end()
    }
}

fn reads_the_outer_row(expr: &Expr) -> bool {
    expr.exists(|expr| Ok(matches!(expr, Expr::OuterReferenceColumn(..)))).expect("the visit cannot fail")
}

/// A condition with outer references and no column of the subquery's own (nor a subquery).
fn reads_only_the_outer_row(condition: &Expr) -> bool {
    let (mut outer, mut other) = (false, false);
    condition
        .apply(|expr| {
            match expr {
                Expr::OuterReferenceColumn(..) => outer = true,
                Expr::Column(_) | Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_) => other = true,
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .expect("the visit cannot fail");
    outer && !other
}

/// `condition` with its outer references as the outer query's columns.
fn as_outer_columns(condition: Expr) -> Result<Expr> {
    condition
        .transform(|expr| match expr {
            Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(Expr::Column(column))),
            other => Ok(Transformed::no(other)),
        })
        .map(|transformed| transformed.data)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// Outer rows 1, 2 and 3; inner rows: none for 1, one for 2, two for 3.
    async fn context() -> SessionContext {
        let ctx = SessionContext::new();
        ctx.add_analyzer_rule(Arc::new(ScalarSubqueries));
        ctx.sql("CREATE VIEW outer_rows(k) AS VALUES (1), (2), (3)").await.unwrap();
        ctx.sql("CREATE VIEW inner_rows(k, v) AS VALUES (2, 'twee'), (3, 'drie'), (3, 'three')").await.unwrap();
        ctx
    }

    async fn answer(sql: &str) -> Result<String> {
        let batches = context().await.sql(sql).await?.collect().await?;
        Ok(pretty_format_batches(&batches)?.to_string())
    }

    #[tokio::test]
    async fn a_correlated_subquery_gives_null_for_no_row_and_the_value_for_one() {
        let sql =
            "SELECT k, (SELECT i.v FROM inner_rows i WHERE i.k = o.k) AS v FROM outer_rows o WHERE k < 3 ORDER BY k";
        let expected = ["+---+------+", "| k | v    |", "+---+------+", "| 1 |      |", "| 2 | twee |", "+---+------+"];
        assert_eq!(answer(sql).await.unwrap(), expected.join("\n"));
        // Correlated on an expression, selecting the key column DataFusion groups by.
        let sql = "SELECT k, (SELECT i.k FROM inner_rows i WHERE i.k = o.k + 1) AS v FROM outer_rows o WHERE k = 1";
        let expected = ["+---+---+", "| k | v |", "+---+---+", "| 1 | 2 |", "+---+---+"];
        assert_eq!(answer(sql).await.unwrap(), expected.join("\n"));
    }

    #[tokio::test]
    async fn a_condition_on_the_outer_row_alone_is_tested_by_the_outer_query() {
        let sql =
            "SELECT k, (SELECT i.v FROM inner_rows i WHERE i.k = o.k AND o.k < 3) AS v FROM outer_rows o ORDER BY k";
        let expected = [
            "+---+------+",
            "| k | v    |",
            "+---+------+",
            "| 1 |      |",
            "| 2 | twee |",
            "| 3 |      |",
            "+---+------+",
        ];
        assert_eq!(answer(sql).await.unwrap(), expected.join("\n"));
        // Without it the subquery is uncorrelated: three rows, but only where o.k = 2 is asked.
        let sql =
            "SELECT k, (SELECT i.v FROM inner_rows i WHERE o.k = 2) AS v FROM outer_rows o WHERE k <> 2 ORDER BY k";
        let expected = ["+---+---+", "| k | v |", "+---+---+", "| 1 |   |", "| 3 |   |", "+---+---+"];
        assert_eq!(answer(sql).await.unwrap(), expected.join("\n"));
        let sql = "SELECT k, (SELECT i.v FROM inner_rows i WHERE o.k = 2) AS v FROM outer_rows o";
        assert!(answer(sql).await.unwrap_err().to_string().contains("more than one row"), "{sql}");
    }

    #[tokio::test]
    async fn a_subquery_value_that_reads_the_outer_row_is_computed_by_the_outer_query() {
        // Under CASE (DataFusion alone cannot plan this), and NULL where the subquery finds no
        // row even though the outer row alone would give a value.
        let sql = "SELECT k, CASE WHEN k < 3 THEN (SELECT i.v || '/' || o.k FROM inner_rows i WHERE i.k = o.k) END AS v, \
                   (SELECT o.k * 10 FROM inner_rows i WHERE i.k = o.k AND i.v = 'drie') AS w \
                   FROM outer_rows o ORDER BY k";
        let expected = [
            "+---+--------+----+",
            "| k | v      | w  |",
            "+---+--------+----+",
            "| 1 |        |    |",
            "| 2 | twee/2 |    |",
            "| 3 |        | 30 |",
            "+---+--------+----+",
        ];
        assert_eq!(answer(sql).await.unwrap(), expected.join("\n"));
        let sql =
            "SELECT CASE WHEN k > 0 THEN (SELECT i.v || o.k FROM inner_rows i WHERE i.k = o.k) END FROM outer_rows o";
        assert!(answer(sql).await.unwrap_err().to_string().contains("more than one row"), "{sql}");
    }

    #[tokio::test]
    async fn an_uncorrelated_subquery_that_finds_no_row_is_null() {
        let sql = "SELECT (SELECT i.k FROM inner_rows i WHERE i.k > 5) AS v, (SELECT i.k FROM inner_rows i WHERE i.k = 2) AS w";
        let expected = ["+---+---+", "| v | w |", "+---+---+", "|   | 2 |", "+---+---+"];
        assert_eq!(answer(sql).await.unwrap(), expected.join("\n"));
        let error = answer("SELECT (SELECT i.k FROM inner_rows i)").await.unwrap_err();
        assert!(error.to_string().contains("more than one row"), "{error}");
    }

    #[tokio::test]
    async fn a_correlated_subquery_that_finds_two_rows_is_an_error() {
        for sql in [
            "SELECT k, (SELECT i.v FROM inner_rows i WHERE i.k = o.k) FROM outer_rows o",
            "SELECT k FROM outer_rows o WHERE (SELECT i.v FROM inner_rows i WHERE i.k = o.k) = 'drie'",
            "SELECT CASE WHEN k > 1 THEN (SELECT i.v FROM inner_rows i WHERE i.k = o.k) END FROM outer_rows o",
        ] {
            let error = answer(sql).await.unwrap_err();
            assert!(error.to_string().contains("more than one row"), "{sql}: {error}");
        }
    }

    #[tokio::test]
    async fn subqueries_that_give_at_most_one_row_keep_their_plan() {
        let ctx = context().await;
        for sql in [
            "SELECT (SELECT max(i.v) FROM inner_rows i WHERE i.k = o.k) FROM outer_rows o",
            "SELECT (SELECT i.v FROM inner_rows i WHERE i.k = o.k LIMIT 1) FROM outer_rows o",
            "SELECT (SELECT count(*) FROM inner_rows i) FROM outer_rows o",
            "SELECT (SELECT max(i.v) FROM inner_rows i) FROM outer_rows o",
        ] {
            let plan = ctx.sql(sql).await.unwrap().into_unoptimized_plan();
            let analyzed = ctx.state().analyzer().execute_and_check(plan, ctx.state().config_options(), |_, _| {});
            assert!(!format!("{}", analyzed.unwrap().display_indent()).contains("zicht_subquery_value"), "{sql}");
        }
    }

    #[tokio::test]
    async fn the_checked_subquery_is_planned_as_an_aggregate_of_value_and_rows() {
        let ctx = context().await;
        let sql = "SELECT k, (SELECT i.v FROM inner_rows i WHERE i.k = o.k) AS v FROM outer_rows o";
        let plan = ctx.sql(sql).await.unwrap().into_unoptimized_plan();
        let analyzed = ctx.state().analyzer().execute_and_check(plan, ctx.state().config_options(), |_, _| {}).unwrap();
        let expected = "\
Projection: o.k, zicht_subquery_value((<subquery>)) AS v
  Subquery:
    Aggregate: groupBy=[[]], aggr=[[named_struct(Utf8(\"value\"), first_value(i.v), Utf8(\"rows\"), count(Int64(1))) AS zicht_found]]
      Projection: i.v
        Filter: i.k = outer_ref(o.k)
          SubqueryAlias: i
            SubqueryAlias: inner_rows
              Projection: column1 AS k, column2 AS v
                Values: (Int64(2), Utf8(\"twee\")), (Int64(3), Utf8(\"drie\")), (Int64(3), Utf8(\"three\"))
  SubqueryAlias: o
    SubqueryAlias: outer_rows
      Projection: column1 AS k
        Values: (Int64(1)), (Int64(2)), (Int64(3))";
        assert_eq!(format!("{}", analyzed.display_indent()), expected);
    }
}
