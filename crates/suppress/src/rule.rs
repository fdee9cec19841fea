//! The analyzer rule: validates every plan that touches protected rows and rewrites each aggregate
//! over them into a protecting aggregate.
//!
//! It walks the plan bottom-up and gives every node a [`Lineage`]: `Public` (reference data),
//! `Released` (computed from protected rows, but only through a protecting aggregate) or
//! `Protected` (unit-level rows), and an [`Origin`] for every column. Only filters, projections,
//! aliases and the allowed joins may sit on protected rows, in the forms the session's
//! [`AccessLevel`] allows; an aggregate turns them into released cells; anything else, or
//! protected rows reaching the root, is refused.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, TableReference};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, Distinct, Expr, Filter, Join, LogicalPlan, Operator, Projection, SubqueryAlias,
};
use datafusion::optimizer::AnalyzerRule;

use crate::access::AccessLevel;
use crate::error::reject;
use crate::expression::{check_value, make_safe, make_safe_predicate};
use crate::join::{join_rows, non_equi_conditions};
use crate::lineage::{
    Kind, Lineage, Origin, Refusal, Rows, Unit, Value, canonical_text, origin_of, origin_of_expr, origins_of,
    strip_alias,
};
use crate::measure::{AggregateCalls, GroupKey};
use crate::noise::CellKeyer;
use crate::released::released;
use crate::schema_only::schema_only;
use crate::table::CatalogTable;
use crate::untrusted;

/// Name of the hidden column that holds the protecting aggregation's released cells (a struct with a
/// field per measure, and last, when grouped, whether the group may be shown).
const CELLS_COLUMN: &str = "__zicht_cells";
/// Prefix of the hidden columns that carry unit ids through projections that drop them.
const UNIT_COLUMN_PREFIX: &str = "__zicht_unit_";

#[derive(Debug)]
pub struct ProtectRule {
    keyer: CellKeyer,
    level: AccessLevel,
}

impl ProtectRule {
    pub fn new(keyer: CellKeyer, level: AccessLevel) -> ProtectRule {
        ProtectRule { keyer, level }
    }

    fn untrusted(&self) -> bool {
        self.level == AccessLevel::Untrusted
    }
}

impl AnalyzerRule for ProtectRule {
    fn name(&self) -> &str {
        "zicht_protect"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        if reads_protected(&plan)?
            && let Some(empty) = schema_only(&plan)
        {
            return Ok(empty);
        }
        let (plan, lineage) = self.visit(plan)?;
        if let Some(rows) = lineage.rows() {
            return reject(
                "row-level",
                format!(
                    "rows of {} cannot leave the engine; aggregate them instead, e.g. \
                     SELECT bu_code, count(*), avg(...) FROM ... GROUP BY bu_code",
                    rows.table_names()
                ),
            );
        }
        Ok(plan)
    }
}

impl ProtectRule {
    fn visit(&self, plan: LogicalPlan) -> Result<(LogicalPlan, Lineage)> {
        refuse_metadata(&plan)?;
        if let LogicalPlan::Analyze(_) = &plan {
            let origins = origins_of(&plan, &[]);
            return Ok((plan, Lineage { kind: Kind::Public, origins }));
        }
        // protect_subquery always reports a change, so `transformed` says whether there were any.
        let mapped = plan.map_subqueries(|subquery| self.protect_subquery(subquery))?;
        let (had_subqueries, plan) = (mapped.transformed, mapped.data);
        let inputs: Vec<LogicalPlan> = plan.inputs().into_iter().cloned().collect();
        let mut children = Vec::with_capacity(inputs.len());
        let mut lineages = Vec::with_capacity(inputs.len());
        for input in inputs {
            let (child, lineage) = self.visit(input)?;
            children.push(child);
            lineages.push(lineage);
        }
        let plan = if children.is_empty() { plan } else { plan.with_new_exprs(plan.expressions(), children)? };
        let Some(rows) = lineages.iter().find_map(|l| l.rows().cloned()) else {
            return Ok(free_node(plan, &lineages));
        };
        if had_subqueries && !matches!(plan, LogicalPlan::Subquery(_)) {
            return reject(
                "subquery-below",
                "subqueries (EXISTS, IN, scalar) cannot be combined with protected rows; join public tables instead",
            );
        }
        match plan {
            LogicalPlan::Projection(projection) => self.project(projection, rows, &lineages[0]),
            LogicalPlan::Filter(filter) => self.filter(filter, rows, &lineages[0]),
            LogicalPlan::SubqueryAlias(alias) => Ok(requalify(alias, rows, &lineages[0])),
            LogicalPlan::Join(join) => self.join(join, &lineages),
            LogicalPlan::Aggregate(aggregate) => self.protect_aggregate(aggregate, rows, &lineages[0]),
            LogicalPlan::Subquery(_) | LogicalPlan::Repartition(_) => Ok(pass(plan, rows, &lineages)),
            LogicalPlan::Explain(_) | LogicalPlan::DescribeTable(_) => {
                let origins = origins_of(&plan, &lineages);
                Ok((plan, Lineage { kind: Kind::Public, origins }))
            }
            LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => Ok(postpone(plan, rows, &lineages, ORDER_LIMIT)),
            LogicalPlan::Distinct(Distinct::All(_)) => Ok(postpone(plan, rows, &lineages, DISTINCT)),
            LogicalPlan::Window(_) => Ok(postpone(plan, rows, &lineages, WINDOW)),
            other => refuse_node(&other),
        }
    }

    /// A subquery is a query of its own: it may not return protected rows.
    fn protect_subquery(&self, subquery: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        let (plan, lineage) = self.visit(subquery)?;
        if let Some(rows) = lineage.rows() {
            return reject(
                "subquery-rows",
                format!("a subquery may not select rows of {}; aggregate them first", rows.table_names()),
            );
        }
        Ok(Transformed::yes(plan))
    }

    fn project(&self, projection: Projection, rows: Rows, input: &Lineage) -> Result<(LogicalPlan, Lineage)> {
        let schema = Arc::clone(projection.input.schema());
        let computes = projection.expr.iter().any(|e| !matches!(strip_alias(e), Expr::Column(_)));
        if let (Some(refusal), true) = (&rows.pending, computes) {
            return reject(refusal.rule, refusal.message);
        }
        let mut exprs = Vec::with_capacity(projection.expr.len());
        let mut origins = Vec::with_capacity(projection.expr.len());
        let mut carried = vec![None; rows.units.len()];
        for (i, expr) in projection.expr.iter().enumerate() {
            let (qualifier, field) = projection.schema.qualified_field(i);
            if let Expr::Column(column) = strip_alias(expr) {
                if let Some(index) = rows.unit_index(&schema, column) {
                    carried[index] = Some(Column::from((qualifier, field)));
                }
                exprs.push(expr.clone());
                origins.push(origin_of_expr(expr, &schema, &input.origins));
                continue;
            }
            refuse_identifying(expr, &schema, &input.origins, "unit-expression")?;
            let (safe, origin) = self.computed_value(expr, &schema, &input.origins)?;
            exprs.push(keep_name(safe, qualifier, field.name()));
            origins.push(origin);
        }
        // Unit ids the query does not select still travel up, hidden, to the protecting aggregate.
        let mut units = Vec::with_capacity(rows.units.len());
        for (index, unit) in rows.units.iter().enumerate() {
            let column = match carried[index].take() {
                Some(column) => column,
                None => {
                    let name = format!("{UNIT_COLUMN_PREFIX}{index}");
                    let expr = Expr::Column(unit.column.clone());
                    origins.push(origin_of_expr(&expr, &schema, &input.origins));
                    exprs.push(expr.alias(&name));
                    Column::from_name(name)
                }
            };
            units.push(Unit { entity: unit.entity, column });
        }
        let projection = Projection::try_new(exprs, projection.input)?;
        let rows = Rows { units, ..rows };
        Ok((LogicalPlan::Projection(projection), Lineage { kind: Kind::Protected(rows), origins }))
    }

    /// A computed column on protected rows: a bucket at the untrusted level (constants too), any
    /// listed computation made safe at the trusted level.
    fn computed_value(&self, expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Result<(Expr, Origin)> {
        if expr.column_refs().is_empty() {
            return Ok((expr.clone(), origin_of_expr(expr, schema, origins)));
        }
        if self.untrusted() {
            let canonical = untrusted::value(expr, schema, origins)?;
            let origin = Origin { canonical, value: Value::Generalized, identifying: false, protected: true };
            return Ok((make_safe(expr.clone(), schema)?, origin));
        }
        check_value(expr, schema, origins, "unit-expression")?;
        Ok((make_safe(expr.clone(), schema)?, origin_of_expr(expr, schema, origins)))
    }

    fn filter(&self, filter: Filter, mut rows: Rows, input: &Lineage) -> Result<(LogicalPlan, Lineage)> {
        if let Some(refusal) = &rows.pending {
            return reject(refusal.rule, refusal.message);
        }
        let schema = Arc::clone(filter.input.schema());
        let conditions = self.conditions(&filter.predicate, &schema, &input.origins)?;
        rows.conditions.extend(conditions);
        let predicate = make_safe_predicate(filter.predicate, &schema)?;
        let filter = Filter::try_new(predicate, filter.input)?;
        let lineage = Lineage { kind: Kind::Protected(rows), origins: input.origins.clone() };
        Ok((LogicalPlan::Filter(filter), lineage))
    }

    /// The canonical conditions of a filter on protected rows, or its refusal.
    pub(crate) fn conditions(&self, predicate: &Expr, schema: &DFSchema, origins: &[Origin]) -> Result<Vec<String>> {
        let mut conditions = Vec::new();
        if correlated(predicate) {
            return reject(
                "subquery-rows",
                "a subquery may not select rows of protected tables; aggregate them, or join public tables instead",
            );
        }
        for atom in split_conjunction(predicate) {
            let between_identifiers = unit_equality(atom, schema, origins) || row_order(atom, schema, origins);
            if between_identifiers && !self.untrusted() {
                conditions.push(canonical_text(atom, schema, origins));
                continue;
            }
            refuse_identifying(atom, schema, origins, "filter-unit")?;
            if self.untrusted() {
                if matches!(atom, Expr::BinaryExpr(BinaryExpr { op: Operator::Or, .. })) {
                    return reject(
                        "filter-or",
                        "filters on protected rows must be conjunctions (AND) of conditions; \
                         GROUP BY the column instead of OR",
                    );
                }
                conditions.push(untrusted::filter_atom(atom, schema, origins)?);
            } else {
                check_value(atom, schema, origins, "filter-unit")?;
                conditions.push(canonical_text(atom, schema, origins));
            }
        }
        Ok(conditions)
    }

    fn join(&self, mut join: Join, inputs: &[Lineage]) -> Result<(LogicalPlan, Lineage)> {
        let mut rows = join_rows(&join, inputs, self.level)?;
        let both = join.left.schema().join(join.right.schema())?;
        let origins: Vec<Origin> = inputs.iter().flat_map(|l| l.origins.iter().cloned()).collect();
        for condition in non_equi_conditions(&join) {
            rows.conditions.extend(self.conditions(&condition, &both, &origins)?);
        }
        if let Some(filter) = join.filter.take() {
            join.filter = Some(make_safe_predicate(filter, &both)?);
        }
        let plan = LogicalPlan::Join(join);
        let origins = origins_of(&plan, inputs);
        Ok((plan, Lineage { kind: Kind::Protected(rows), origins }))
    }

    fn protect_aggregate(&self, aggregate: Aggregate, rows: Rows, input: &Lineage) -> Result<(LogicalPlan, Lineage)> {
        if let Some(refusal) = &rows.pending {
            return reject(refusal.rule, refusal.message);
        }
        let schema = Arc::clone(aggregate.input.schema());
        let group_count = aggregate.group_expr.len();
        let mut group_expr = Vec::with_capacity(group_count);
        let mut keys = Vec::with_capacity(group_count);
        for (i, expr) in aggregate.group_expr.iter().enumerate() {
            if matches!(expr, Expr::GroupingSet(_)) {
                return reject("grouping-sets", "GROUPING SETS, ROLLUP and CUBE are not supported on protected rows");
            }
            refuse_identifying(expr, &schema, &input.origins, "group-by-unit")?;
            let (safe, origin) = self.computed_value(expr, &schema, &input.origins)?;
            let (qualifier, field) = aggregate.schema.qualified_field(i);
            group_expr.push(keep_name(safe, qualifier, field.name()));
            keys.push(GroupKey { canonical: origin.canonical });
        }
        let calls = AggregateCalls::new(self, &rows, &schema, &input.origins, keys, &aggregate.aggr_expr)?;
        let grouped = group_count > 0;
        let return_types: Vec<DataType> = (0..aggregate.aggr_expr.len())
            .map(|i| aggregate.schema.field(group_count + i).data_type().clone())
            .collect();
        let protected = calls.protect(&return_types, grouped).alias(CELLS_COLUMN);
        let rewritten =
            Arc::new(LogicalPlan::Aggregate(Aggregate::try_new(aggregate.input, group_expr, vec![protected])?));
        let cells = || Expr::Column(Column::from_name(CELLS_COLUMN));
        let shown = || get_field(cells(), format!("m{}", return_types.len()));
        // Groups that fail the threshold are dropped whole: their keys alone could single out a unit.
        let input = match grouped {
            true => Arc::new(LogicalPlan::Filter(Filter::try_new(shown(), rewritten)?)),
            false => rewritten,
        };
        // The aggregation's own output: the group keys (behind a barrier no filter is pushed
        // through, and NULL for any group not shown), then each measure's field of the cells.
        let mut columns: Vec<Expr> = (0..group_count)
            .map(|i| {
                let (qualifier, field) = aggregate.schema.qualified_field(i);
                let key = Expr::Column(Column::from((qualifier, field)));
                released(key, shown()).alias_qualified(qualifier.cloned(), field.name())
            })
            .collect();
        for i in 0..return_types.len() {
            let (qualifier, field) = aggregate.schema.qualified_field(group_count + i);
            columns.push(get_field(cells(), format!("m{i}")).alias_qualified(qualifier.cloned(), field.name()));
        }
        let projection = LogicalPlan::Projection(Projection::try_new(columns, input)?);
        let origins = origins_of(&projection, &[]);
        Ok((projection, Lineage { kind: Kind::Released, origins }))
    }

    pub(crate) fn level(&self) -> AccessLevel {
        self.level
    }

    pub(crate) fn keyer(&self) -> &CellKeyer {
        &self.keyer
    }
}

const ORDER_LIMIT: Refusal = Refusal {
    rule: "order-limit-below",
    message: "ORDER BY and LIMIT cannot be applied to protected rows before aggregating them",
};
const DISTINCT: Refusal = Refusal {
    rule: "distinct-below",
    message: "DISTINCT over protected rows is not allowed; count distinct units instead",
};
const WINDOW: Refusal = Refusal {
    rule: "window-below",
    message: "window functions cannot run over protected rows; apply them to aggregated results instead",
};

/// EXPLAIN VERBOSE prints Parquet statistics (the minimum and maximum of every column); EXPLAIN
/// ANALYZE prints row counts. Over protected data both would reveal units. (DataFusion analyzes
/// the plan inside an EXPLAIN, not the EXPLAIN itself: the engine also calls this on each
/// statement, through [`crate::check_statement`].)
pub(crate) fn refuse_metadata(plan: &LogicalPlan) -> Result<()> {
    match plan {
        LogicalPlan::Analyze(analyze) if reads_protected(&analyze.input)? => reject(
            "explain-analyze",
            "EXPLAIN ANALYZE is not allowed on protected data: its row counts would reveal units; use EXPLAIN",
        ),
        LogicalPlan::Explain(explain) if explain.verbose && reads_protected(&explain.plan)? => reject(
            "explain-verbose",
            "EXPLAIN VERBOSE is not allowed on protected data: it prints column statistics; use EXPLAIN",
        ),
        LogicalPlan::RecursiveQuery(_) if reads_protected(plan)? => {
            reject("recursive-query", "recursive queries cannot read protected rows")
        }
        _ => Ok(()),
    }
}

/// Nodes with no protected input: free, their lineage the most sensitive of their inputs.
fn free_node(plan: LogicalPlan, lineages: &[Lineage]) -> (LogicalPlan, Lineage) {
    let origins = origins_of(&plan, lineages);
    if let LogicalPlan::TableScan(scan) = &plan {
        let provider = datafusion::catalog::default_table_source::source_as_provider(&scan.source).ok();
        if let Some(table) = provider.as_ref().and_then(CatalogTable::protected) {
            let definition = Arc::clone(table.definition());
            let units = definition
                .units()
                .map(|(entity, column)| Unit { entity, column: Column::new(Some(scan.table_name.clone()), column) })
                .collect();
            let rows = Rows { units, tables: vec![definition], conditions: Vec::new(), pending: None, repeats: false };
            return (plan, Lineage { kind: Kind::Protected(rows), origins });
        }
        // A view's rows are released cells: the saved queries run through protection themselves.
        let kind = if scan.source.table_type() == TableType::View { Kind::Released } else { Kind::Public };
        return (plan, Lineage { kind, origins });
    }
    let released = lineages.iter().any(|l| matches!(l.kind, Kind::Released));
    (plan, Lineage { kind: if released { Kind::Released } else { Kind::Public }, origins })
}

/// A node that passes protected rows on unchanged.
fn pass(plan: LogicalPlan, rows: Rows, lineages: &[Lineage]) -> (LogicalPlan, Lineage) {
    let origins = origins_of(&plan, lineages);
    (plan, Lineage { kind: Kind::Protected(rows), origins })
}

/// An operation that may not run below an aggregate: refused with its own rule when an aggregate
/// follows, and as row-level output when none does (that is the rule the analyst broke).
fn postpone(plan: LogicalPlan, mut rows: Rows, lineages: &[Lineage], refusal: Refusal) -> (LogicalPlan, Lineage) {
    rows.pending.get_or_insert(refusal);
    pass(plan, rows, lineages)
}

fn refuse_node(plan: &LogicalPlan) -> Result<(LogicalPlan, Lineage)> {
    match plan {
        LogicalPlan::Union(_) => reject("set-operation", "UNION, INTERSECT and EXCEPT cannot combine protected rows"),
        LogicalPlan::Distinct(_) => {
            reject("distinct-below", "DISTINCT over protected rows is not allowed; count distinct units instead")
        }
        LogicalPlan::Dml(_) | LogicalPlan::Copy(_) | LogicalPlan::Ddl(_) => {
            reject("read-only", "the warehouse is read-only")
        }
        other => reject(
            "unsupported",
            format!(
                "{} is not supported on protected rows",
                other.display().to_string().split(':').next().unwrap_or("this operation")
            ),
        ),
    }
}

/// Whether any scan under `plan` (subqueries included) reads a protected table.
pub(crate) fn reads_protected(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let provider = datafusion::catalog::default_table_source::source_as_provider(&scan.source).ok();
            found |= provider.as_ref().and_then(CatalogTable::protected).is_some();
        }
        Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })?;
    Ok(found)
}

fn requalify(alias: SubqueryAlias, rows: Rows, input: &Lineage) -> (LogicalPlan, Lineage) {
    let input_schema = Arc::clone(alias.input.schema());
    let units = rows
        .units
        .iter()
        .map(|unit| {
            let index = input_schema.index_of_column(&unit.column).expect("unit columns are in their schema");
            let name = input_schema.field(index).name();
            Unit { entity: unit.entity, column: Column::new(Some(alias.alias.clone()), name) }
        })
        .collect();
    let lineage = Lineage { kind: Kind::Protected(Rows { units, ..rows }), origins: input.origins.clone() };
    (LogicalPlan::SubqueryAlias(alias), lineage)
}

/// Refuses an expression that uses an identifying column (a unit id or a row id) as a value.
pub(crate) fn refuse_identifying(expr: &Expr, schema: &DFSchema, origins: &[Origin], rule: &'static str) -> Result<()> {
    for column in expr.column_refs() {
        if origin_of(schema, origins, column).is_some_and(|o| o.identifying) {
            return reject(
                rule,
                format!(
                    "{} identifies a unit or a row: it may only be counted with count(DISTINCT {}) or used as a join key",
                    column.name, column.name
                ),
            );
        }
    }
    Ok(())
}

/// Whether an expression refers to a query around it (a correlated subquery's condition).
fn correlated(expr: &Expr) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        found |= matches!(e, Expr::OuterReferenceColumn(..));
        Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    });
    found
}

/// `a.persoon_id = b.persoon_id`: an equality of two unit ids of one type is a join condition.
fn unit_equality(atom: &Expr, schema: &DFSchema, origins: &[Origin]) -> bool {
    let Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) = atom else { return false };
    let unit = |e: &Expr| match crate::expression::strip_casts(e) {
        Expr::Column(c) => origin_of(schema, origins, c).and_then(Origin::unit),
        _ => None,
    };
    matches!((unit(left), unit(right)), (Some(a), Some(b)) if a == b)
}

/// `t2.transactie_id > t1.transactie_id`: two row ids of one table compared, to order a unit's
/// rows in a self-join (chains of sales of one dwelling). It tells the order of rows, never an id.
fn row_order(atom: &Expr, schema: &DFSchema, origins: &[Origin]) -> bool {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = atom else { return false };
    let comparison = matches!(op, Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq | Operator::NotEq);
    let row_id = |e: &Expr| match crate::expression::strip_casts(e) {
        Expr::Column(c) => origin_of(schema, origins, c)
            .and_then(Origin::catalog)
            .filter(|(table, column)| table.column(column).is_some_and(|c| c.role == zicht_catalog::ColumnRole::RowId))
            .map(|(table, _)| table.qualified_name()),
        _ => None,
    };
    comparison && matches!((row_id(left), row_id(right)), (Some(a), Some(b)) if a == b)
}

/// Keeps the output name an expression had, so the nodes above still find it.
pub(crate) fn keep_name(expr: Expr, qualifier: Option<&TableReference>, name: &str) -> Expr {
    if expr.schema_name().to_string() == name && qualifier.is_none() {
        return expr;
    }
    match expr {
        Expr::Alias(alias) if alias.name == name && alias.relation.as_ref() == qualifier => Expr::Alias(alias),
        Expr::Alias(alias) => alias.expr.alias_qualified(qualifier.cloned(), name),
        other => other.alias_qualified(qualifier.cloned(), name),
    }
}

/// The type a protecting aggregate takes its values in.
pub(crate) const VALUE_TYPE: DataType = DataType::Float64;
